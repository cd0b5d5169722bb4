import { calculateObjectSize, type Document } from 'bson';
import { splitNs } from '../catalog.js';
import { parseCollation } from '../collation.js';
import { CommandError } from '../errors.js';
import { validateIndexSpec } from '../indexes.js';
import { compileFilter } from '../mingo-compat.js';
import { isPlainObject } from '../paths.js';
import { collectionName, existingCollection, type CommandHandler, type CommandContext } from './context.js';

function sameKey(a: Document, b: Document): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Index options that distinguish two specs with the same key pattern. */
function optionsOf(spec: Document): string {
  const { v: _v, key: _key, name: _name, ...options } = spec;
  return JSON.stringify(options);
}

export const createIndexes: CommandHandler = (command, context) => {
  if (!Array.isArray(command.indexes) || command.indexes.length === 0) {
    throw new CommandError('BadValue', 'Must specify at least one index to create');
  }
  const name = collectionName(command);
  const created = !context.catalog.get(context.db, name);
  const collection = context.catalog.ensure(context.db, name);
  const before = collection.indexes.size;
  for (const raw of command.indexes as Document[]) {
    const spec = validateIndexSpec(raw);
    const sameName = collection.indexes.get(spec.name);
    if (sameName) {
      if (!sameKey(sameName.spec.key, spec.key)) {
        throw new CommandError(
          'IndexKeySpecsConflict',
          `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameName.spec)}`,
        );
      }
      if (optionsOf(sameName.spec) !== optionsOf(spec)) {
        throw new CommandError(
          'IndexOptionsConflict',
          `An equivalent index already exists with the same name but different options. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameName.spec)}`,
        );
      }
      continue;
    }
    for (const existing of collection.indexes.values()) {
      if (sameKey(existing.spec.key, spec.key) && optionsOf(existing.spec) === optionsOf(spec)) {
        throw new CommandError('IndexOptionsConflict', `Index already exists with a different name: ${existing.name}`);
      }
    }
    collection.addIndex(spec);
  }
  const reply: Document = {
    numIndexesBefore: before,
    numIndexesAfter: collection.indexes.size,
    createdCollectionAutomatically: created,
  };
  if (before === collection.indexes.size) reply.note = 'all indexes already exist';
  return { ...reply, ok: 1 };
};

export const listIndexes: CommandHandler = (command, context) => {
  const collection = existingCollection(context, command);
  if (!collection)
    throw new CommandError('NamespaceNotFound', `ns does not exist: ${context.db}.${collectionName(command)}`);
  const batch = context.cursors.open(
    collection.ns,
    [...collection.indexes.values()].map((index) => index.spec),
    undefined,
  );
  return { cursor: { firstBatch: batch.docs, id: batch.id, ns: collection.ns }, ok: 1 };
};

export const dropIndexes: CommandHandler = (command, context) => {
  const collection = existingCollection(context, command);
  if (!collection) throw new CommandError('NamespaceNotFound', `ns not found ${context.db}.${collectionName(command)}`);
  const nIndexesWas = collection.indexes.size;
  const requested = command.index;
  let names: string[];
  if (requested === '*') names = [...collection.indexes.keys()].filter((name) => name !== '_id_');
  else if (typeof requested === 'string') names = [requested];
  else if (Array.isArray(requested)) names = requested.map(String);
  else if (isPlainObject(requested)) {
    const match = [...collection.indexes.values()].find((index) => sameKey(index.spec.key, requested));
    if (!match) throw new CommandError('IndexNotFound', `can't find index with key: ${JSON.stringify(requested)}`);
    names = [match.name];
  } else throw new CommandError('BadValue', 'invalid index specification');
  for (const name of names) {
    if (name === '_id_') throw new CommandError('InvalidOptions', 'cannot drop _id index');
    if (!collection.indexes.has(name)) throw new CommandError('IndexNotFound', `index not found with name [${name}]`);
  }
  for (const name of names) collection.dropIndex(name);
  return { nIndexesWas, ok: 1 };
};

/**
 * `create` options that change how a collection behaves and that the store does not implement:
 * refused rather than stored and ignored (a view would be an empty collection, a validator
 * would let every document in). Size and index defaults are only recorded.
 */
const UNIMPLEMENTED_CREATE_OPTIONS: Record<string, string> = {
  viewOn: 'views',
  pipeline: 'views',
  validator: 'schema validation',
  capped: 'capped collections',
  timeseries: 'time series collections',
  clusteredIndex: 'clustered collections',
  expireAfterSeconds: 'collection-level expiry',
  collation: 'collection default collations',
  changeStreamPreAndPostImages: 'change streams',
  encryptedFields: 'queryable encryption',
};

export const create: CommandHandler = (command, context) => {
  const {
    create: name,
    writeConcern: _w,
    lsid: _l,
    $db: _d,
    $clusterTime: _c,
    $readPreference: _r,
    apiVersion: _a,
    comment: _m,
    ...options
  } = command;
  for (const [option, feature] of Object.entries(UNIMPLEMENTED_CREATE_OPTIONS)) {
    const value = options[option] as unknown;
    if (value === undefined || value === false) continue;
    if (option === 'collation' && parseCollation(value, 'create.collation') === undefined) continue;
    throw new CommandError(
      'NotImplemented',
      `the embedded store does not implement ${feature} (create with ${option})`,
    );
  }
  context.catalog.create(context.db, String(name), options);
  return { ok: 1 };
};

export const drop: CommandHandler = (command, context) => {
  const name = collectionName(command);
  const collection = context.catalog.get(context.db, name);
  if (!collection) throw new CommandError('NamespaceNotFound', 'ns not found');
  const nIndexesWas = collection.indexes.size;
  context.catalog.drop(context.db, name);
  return { nIndexesWas, ns: collection.ns, ok: 1 };
};

export const dropDatabase: CommandHandler = (_command, context) => {
  context.catalog.dropDatabase(context.db);
  return { dropped: context.db, ok: 1 };
};

export const listCollections: CommandHandler = (command, context) => {
  const filter = isPlainObject(command.filter) ? command.filter : {};
  const nameOnly = command.nameOnly === true;
  const infos = context.catalog.collections(context.db).map((collection) =>
    nameOnly
      ? { name: collection.name, type: 'collection' }
      : {
          name: collection.name,
          type: 'collection',
          options: collection.options,
          info: { readOnly: false, uuid: collection.uuid },
          idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
        },
  );
  const selected = Object.keys(filter).length ? infos.filter((info) => compileFilter(filter).test(info)) : infos;
  const ns = `${context.db}.$cmd.listCollections`;
  const batch = context.cursors.open(ns, selected, undefined);
  return { cursor: { firstBatch: batch.docs, id: batch.id, ns }, ok: 1 };
};

function sizeOf(context: CommandContext, name: string): { count: number; size: number; indexes: number } {
  const collection = context.catalog.get(context.db, name);
  if (!collection) return { count: 0, size: 0, indexes: 0 };
  let size = 0;
  for (const doc of collection.docs.values()) size += calculateObjectSize(doc);
  return { count: collection.docs.size, size, indexes: collection.indexes.size };
}

export const collStats: CommandHandler = (command, context) => {
  const name = collectionName(command);
  const { count, size, indexes } = sizeOf(context, name);
  return {
    ns: `${context.db}.${name}`,
    count,
    size,
    avgObjSize: count ? Math.round(size / count) : 0,
    storageSize: size,
    nindexes: indexes,
    ok: 1,
  };
};

export const dbStats: CommandHandler = (_command, context) => {
  const collections = context.catalog.collections(context.db);
  let objects = 0;
  let dataSize = 0;
  let indexes = 0;
  for (const collection of collections) {
    const stats = sizeOf(context, collection.name);
    objects += stats.count;
    dataSize += stats.size;
    indexes += stats.indexes;
  }
  return {
    db: context.db,
    collections: collections.length,
    views: 0,
    objects,
    dataSize,
    storageSize: dataSize,
    indexes,
    ok: 1,
  };
};

export const listDatabases: CommandHandler = (command, context) => {
  // `filter` applies to the listed documents (name, sizeOnDisk, empty), as MongoDB's does.
  const filter = isPlainObject(command.filter) ? compileFilter(command.filter) : undefined;
  const databases = context.catalog
    .databaseNames()
    .map((name) => {
      let sizeOnDisk = 0;
      for (const collection of context.catalog.collections(name)) {
        for (const doc of collection.docs.values()) sizeOnDisk += calculateObjectSize(doc);
      }
      return { name, sizeOnDisk, empty: sizeOnDisk === 0 };
    })
    .filter((database) => !filter || filter.test(database));
  if (command.nameOnly === true) return { databases: databases.map(({ name }) => ({ name })), ok: 1 };
  return { databases, totalSize: databases.reduce((sum, db) => sum + db.sizeOnDisk, 0), ok: 1 };
};

export const renameCollection: CommandHandler = (command, context) => {
  const [fromDb, fromName] = splitNs(String(command.renameCollection));
  const [toDb, toName] = splitNs(String(command.to));
  if (fromDb !== toDb) throw new CommandError('IllegalOperation', 'renaming across databases is not supported');
  context.catalog.rename(fromDb, fromName, toName, command.dropTarget === true);
  return { ok: 1 };
};
