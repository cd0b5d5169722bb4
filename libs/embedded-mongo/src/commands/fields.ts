import type { Document } from 'bson';
import { CommandError } from '../errors.js';

/**
 * MongoDB 7.0 parses its commands with generated IDL parsers that refuse any field they do not
 * declare: `BSON field 'find.foo' is an unknown field.` (code 40415). The store does the same
 * for the commands below, so an option it would otherwise ignore (or a newer server's option,
 * such as 8.0's `sort` on update statements) fails here as it fails in production.
 *
 * The lists are 7.0's fields for each command; the options the store does not implement are
 * refused by the handlers themselves, with MongoDB's code or NotImplemented.
 */

/** Fields every command accepts (7.0's generic arguments). */
const GENERIC = [
  '$db',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
  'maxTimeMS',
  'readConcern',
  'writeConcern',
  'lsid',
  'clientOperationKey',
  'txnNumber',
  'autocommit',
  'startTransaction',
  'stmtId',
  'comment',
  '$readPreference',
  '$clusterTime',
  '$audit',
  '$client',
  '$configServerState',
  'allowImplicitCollectionCreation',
  '$oplogQueryData',
  '$queryOptions',
  '$replData',
  'databaseVersion',
  'shardVersion',
  'tracking_info',
  'coordinator',
  'maxTimeMSOpOnly',
  'usesDefaultMaxTimeMS',
  '$configTime',
  '$topologyTime',
  'txnRetryCounter',
  'mayBypassWriteBlocking',
];

const WRITE_BASE = ['bypassDocumentValidation', 'ordered', 'stmtIds', 'isTimeseriesNamespace', 'encryptionInformation'];

const COMMAND_FIELDS: Record<string, string[]> = {
  find: [
    'filter',
    'projection',
    'sort',
    'hint',
    'skip',
    'limit',
    'batchSize',
    'singleBatch',
    'max',
    'min',
    'returnKey',
    'showRecordId',
    'tailable',
    'oplogReplay',
    'noCursorTimeout',
    'awaitData',
    'allowPartialResults',
    'collation',
    'allowDiskUse',
    'let',
    'readOnce',
    'allowSpeculativeMajorityRead',
    '$_requestResumeToken',
    '$_resumeAfter',
    '$_startAt',
    'term',
    'encryptionInformation',
  ],
  insert: ['documents', ...WRITE_BASE],
  update: ['updates', 'let', ...WRITE_BASE],
  delete: ['deletes', 'let', ...WRITE_BASE],
  findAndModify: [
    'query',
    'fields',
    'sort',
    'batchSize',
    'remove',
    'update',
    'new',
    'upsert',
    'bypassDocumentValidation',
    'collation',
    'arrayFilters',
    'hint',
    'let',
    'encryptionInformation',
    'isTimeseriesNamespace',
    'sampleId',
  ],
  aggregate: [
    'pipeline',
    'explain',
    'allowDiskUse',
    'cursor',
    'bypassDocumentValidation',
    'collation',
    'hint',
    'let',
    'needsMerge',
    'fromMongos',
    'fromRouter',
    '$_requestReshardingResumeToken',
    'isMapReduceCommand',
    'collectionUUID',
    'exchange',
    'runtimeConstants',
    'encryptionInformation',
    '$_generateV2ResumeTokens',
    'passthroughToShard',
    'isClusterQueryWithoutShardKeyCmd',
  ],
  count: ['query', 'limit', 'skip', 'hint', 'collation', 'fields', 'encryptionInformation', 'mirrored', 'sampleId'],
  distinct: ['key', 'query', 'collation', 'mirrored', 'sampleId'],
  getMore: ['collection', 'batchSize', 'term', 'lastKnownCommittedOpTime', 'includeQueryStatsMetrics'],
  killCursors: ['cursors'],
  create: [
    'capped',
    'autoIndexId',
    'idIndex',
    'size',
    'max',
    'storageEngine',
    'validator',
    'validationLevel',
    'validationAction',
    'indexOptionDefaults',
    'viewOn',
    'pipeline',
    'collation',
    'changeStreamPreAndPostImages',
    'timeseries',
    'clusteredIndex',
    'expireAfterSeconds',
    'encryptedFields',
    'temp',
    'flags',
  ],
  createIndexes: ['indexes', 'commitQuorum', 'ignoreUnknownIndexOptions', 'isTimeseriesNamespace', 'returnOnStart'],
  listIndexes: ['cursor', 'includeBuildUUIDs', 'includeIndexBuildInfo', 'isTimeseriesNamespace'],
  listCollections: ['filter', 'nameOnly', 'authorizedCollections', 'cursor', 'includePendingDrops'],
  dropIndexes: ['index', 'isTimeseriesNamespace', 'collectionUUID'],
  drop: ['collectionUUID', 'isTimeseriesNamespace'],
};

/** Fields of one statement inside `update.updates` / `delete.deletes`. */
const STATEMENT_FIELDS: Record<string, Set<string>> = {
  updates: new Set([
    'q',
    'u',
    'c',
    'upsert',
    'multi',
    'arrayFilters',
    'hint',
    'collation',
    'upsertSupplied',
    'sampleId',
    '$_allowShardKeyUpdatesWithoutFullShardKeyInQuery',
  ]),
  deletes: new Set(['q', 'limit', 'hint', 'collation', 'sampleId']),
};

const allowed = new Map(
  Object.entries(COMMAND_FIELDS).map(([name, fields]) => [name, new Set([name, ...GENERIC, ...fields])]),
);
allowed.set('findandmodify', new Set(['findandmodify', ...allowed.get('findAndModify')!]));

function unknownField(path: string): CommandError {
  return new CommandError('Location40415', `BSON field '${path}' is an unknown field.`);
}

/** Refuses a field the named command does not have in MongoDB 7.0; commands not listed are not checked. */
export function assertKnownFields(name: string, command: Document): void {
  const fields = allowed.get(name);
  if (!fields) return;
  for (const field of Object.keys(command)) {
    if (!fields.has(field)) throw unknownField(`${name}.${field}`);
  }
}

/** The same for each statement of an update or delete (`update.updates.sort` on 7.0). */
export function assertKnownStatementFields(
  command: string,
  field: 'updates' | 'deletes',
  statements: Document[],
): void {
  const known = STATEMENT_FIELDS[field];
  for (const statement of statements) {
    for (const key of Object.keys(statement)) {
      if (!known.has(key)) throw unknownField(`${command}.${field}.${key}`);
    }
  }
}
