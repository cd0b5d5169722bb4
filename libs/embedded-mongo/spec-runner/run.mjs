#!/usr/bin/env node
/**
 * Runs MongoDB's CRUD unified spec tests (repository mongodb/specifications,
 * source/crud/tests/unified/*.json) through the official `mongodb` driver against an embedded
 * store it starts, and against MONGODB_URI too when that is set. The test files are MongoDB's
 * and are not part of this repository: pass the path of a checkout.
 *
 *   node libs/embedded-mongo/spec-runner/run.mjs <specifications checkout> [--grep <text>] [--json <file>]
 *   npm run spec:crud -- <specifications checkout>
 *
 * It implements the part of the unified test format these files use (entities client /
 * database / collection, initialData, the CRUD operations, expectResult, expectError,
 * expectEvents for command started/succeeded events, outcome) and decides, per test, whether
 * it is in scope (see `scopeOf`). It prints pass/fail counts and each failure's reason.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import swc from '@swc/core';
import { EJSON } from 'bson';
import { MongoClient, MongoServerError, ReadPreference } from 'mongodb';

const libRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(libRoot, '../..');

function parseArgs(argv) {
  const args = { checkout: undefined, grep: undefined, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--grep') args.grep = argv[++i];
    else if (argv[i] === '--json') args.json = argv[++i];
    else args.checkout = argv[i];
  }
  if (!args.checkout) {
    console.error('usage: run.mjs <path of a mongodb/specifications checkout> [--grep <text>] [--json <file>]');
    process.exit(2);
  }
  return args;
}

/** Node cannot import the store's .ts sources: compile them with @swc/core, as bench/run.mjs does. */
async function loadStore() {
  const outDir = mkdtempSync(join(tmpdir(), 'embedded-mongo-spec-'));
  symlinkSync(join(repoRoot, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module' }));
  const tsFiles = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? tsFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
    );
  for (const file of tsFiles(join(libRoot, 'src'))) {
    const { code } = swc.transformFileSync(file, {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
    });
    const target = join(outDir, relative(join(libRoot, 'src'), file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
  }
  const { EmbeddedMongo } = await import(join(outDir, 'index.js'));
  return { EmbeddedMongo, cleanup: () => rmSync(outDir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------------------------
// Scope

/** What the target says it is: version and topology type as the unified format names them. */
async function describeServer(uri) {
  const client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    const admin = client.db('admin');
    const hello = await admin.command({ hello: 1 });
    const info = await admin.command({ buildInfo: 1 });
    const topology = hello.msg === 'isdbgrid' ? 'sharded' : hello.setName ? 'replicaset' : 'single';
    return { version: info.versionArray.slice(0, 3), topology };
  } finally {
    await client.close();
  }
}

function versionOf(text) {
  const parts = String(text).split('.').map(Number);
  while (parts.length < 3) parts.push(0);
  return parts.slice(0, 3);
}

function compareVersions(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function requirementMet(requirement, server) {
  if (requirement.minServerVersion && compareVersions(server.version, versionOf(requirement.minServerVersion)) < 0)
    return false;
  if (requirement.maxServerVersion && compareVersions(server.version, versionOf(requirement.maxServerVersion)) > 0)
    return false;
  if (requirement.topologies && !requirement.topologies.includes(server.topology)) return false;
  if (requirement.serverless === 'require') return false;
  if (requirement.auth === true || requirement.csfle) return false;
  return true;
}

function requirementsMet(list, server) {
  return !list || list.length === 0 || list.some((requirement) => requirementMet(requirement, server));
}

/**
 * In scope: what a single MongoDB 7.0 server decides. Out of scope, with the reason counted:
 * - run-on requirements the target does not meet (server version, a replica set or sharded
 *   topology, serverless, auth): the files say so themselves;
 * - tests that configure fail points (`configureFailPoint` needs the server's test commands,
 *   which production servers do not enable);
 * - client-side only: every operation of the test is expected to fail in the driver before
 *   anything reaches the server (`isClientError: true`), so the server cannot change its result;
 * - driver-only: the test asserts nothing the server produces (no result, no server error, no
 *   reply event, no collection outcome), only the commands the driver sends.
 */
/**
 * Tests that fail because of the Node driver, whatever the server: checked in the driver's
 * source and in the commands it sends.
 */
const NODE_DRIVER_DEVIATIONS = new Map([
  [
    'create-null-ids.json',
    'Node driver deviation: it replaces `_id: null` with a new ObjectId before sending the insert',
  ],
]);

function scopeOf(file, test, server) {
  if (!requirementsMet(file.runOnRequirements, server) || !requirementsMet(test.runOnRequirements, server))
    return 'runOnRequirements not met';
  if (test.skipReason) return `skipped by the file: ${test.skipReason}`;
  if (NODE_DRIVER_DEVIATIONS.has(file.name)) return NODE_DRIVER_DEVIATIONS.get(file.name);
  if (test.operations.some((operation) => operation.name === 'failPoint' || operation.name === 'targetedFailPoint'))
    return 'needs fail points (test commands)';
  const clientOnly = test.operations.every((operation) => operation.expectError?.isClientError === true);
  if (clientOnly) return 'client-side only';
  const assertsServerOutput =
    test.outcome !== undefined ||
    test.operations.some(
      (operation) =>
        operation.expectResult !== undefined ||
        (operation.expectError !== undefined && operation.expectError.isClientError !== true),
    ) ||
    (test.expectEvents ?? []).some(({ events }) => events.some((event) => !('commandStartedEvent' in event)));
  if (!assertsServerOutput) return 'driver-only (asserts only the commands sent)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Matching (the format's "Evaluating Matches")

class Mismatch extends Error {}

function fail(path, message) {
  throw new Mismatch(`${path || '<root>'}: ${message}`);
}

function isDocument(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    value._bsontype === undefined
  );
}

function specialOperator(value) {
  if (!isDocument(value)) return undefined;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0].startsWith('$$') ? keys[0] : undefined;
}

function typeNames(actual) {
  if (actual === null) return ['null'];
  if (typeof actual === 'number') return Number.isInteger(actual) ? ['int', 'long', 'double'] : ['double'];
  if (typeof actual === 'string') return ['string'];
  if (typeof actual === 'boolean') return ['bool'];
  if (actual instanceof Date) return ['date'];
  if (Array.isArray(actual)) return ['array'];
  const bsonType = actual?._bsontype;
  if (bsonType === 'ObjectId') return ['objectId'];
  if (bsonType === 'Long') return ['long'];
  if (bsonType === 'Int32') return ['int'];
  if (bsonType === 'Double') return ['double'];
  if (bsonType === 'Decimal128') return ['decimal'];
  if (bsonType === 'Binary') return ['binData'];
  if (bsonType === 'Timestamp') return ['timestamp'];
  if (isDocument(actual)) return ['object'];
  return [String(bsonType)];
}

function asComparable(value) {
  const type = value?._bsontype;
  if (type === 'Long' || type === 'Int32' || type === 'Double') return Number(value.toString());
  if (typeof value === 'number') return value;
  if (value === undefined) return undefined;
  return EJSON.stringify(value, { relaxed: false });
}

function match(expected, actual, path, root, entities) {
  // The driver builds some command fields (find's `sort`) as Maps.
  if (actual instanceof Map) actual = Object.fromEntries(actual);
  const operator = specialOperator(expected);
  if (operator) {
    const argument = expected[operator];
    switch (operator) {
      case '$$type': {
        const wanted = Array.isArray(argument) ? argument : [argument];
        if (!typeNames(actual).some((name) => wanted.includes(name)))
          fail(path, `expected type ${wanted.join('|')}, got ${typeNames(actual)[0]}`);
        return;
      }
      case '$$unsetOrMatches':
        if (actual === undefined) return;
        return match(argument, actual, path, root, entities);
      case '$$exists':
        if ((actual !== undefined) !== argument) fail(path, `expected ${argument ? 'present' : 'absent'}`);
        return;
      case '$$matchesEntity':
        return match(entities.get(argument), actual, path, root, entities);
      case '$$matchAsRoot':
        return match(argument, actual, path, true, entities);
      case '$$matchAsDocument':
        return match(argument, EJSON.parse(actual, { relaxed: true }), path, true, entities);
      case '$$lte':
        if (!(Number(actual) <= argument)) fail(path, `expected <= ${argument}, got ${actual}`);
        return;
      case '$$sessionLsid':
        return;
      default:
        fail(path, `unsupported special operator ${operator}`);
    }
  }
  if (isDocument(expected)) {
    if (!isDocument(actual)) fail(path, `expected a document, got ${show(actual)}`);
    for (const [key, value] of Object.entries(expected)) {
      const valueOperator = specialOperator(value);
      if (valueOperator === '$$exists' || valueOperator === '$$unsetOrMatches') {
        match(value, actual[key], `${path}.${key}`, false, entities);
        continue;
      }
      if (!(key in actual)) fail(`${path}.${key}`, 'missing');
      match(value, actual[key], `${path}.${key}`, false, entities);
    }
    if (!root) {
      const extra = Object.keys(actual).filter((key) => !(key in expected));
      if (extra.length) fail(path, `unexpected fields ${extra.join(', ')}`);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) fail(path, `expected an array, got ${show(actual)}`);
    if (actual.length !== expected.length)
      fail(path, `expected ${expected.length} elements, got ${actual.length}: ${show(actual)}`);
    expected.forEach((value, i) => match(value, actual[i], `${path}[${i}]`, false, entities));
    return;
  }
  if (asComparable(expected) !== asComparable(actual)) fail(path, `expected ${show(expected)}, got ${show(actual)}`);
}

/** Results whose elements are root-level documents (find, aggregate, …). */
function matchResult(expected, actual, entities) {
  if (Array.isArray(expected) && Array.isArray(actual) && expected.every(isDocument)) {
    if (actual.length !== expected.length)
      fail('result', `expected ${expected.length} documents, got ${actual.length}: ${show(actual)}`);
    expected.forEach((value, i) => match(value, actual[i], `result[${i}]`, true, entities));
    return;
  }
  match(expected, actual, 'result', true, entities);
}

function show(value) {
  if (value === undefined) return 'undefined';
  const text = EJSON.stringify(value, { relaxed: true });
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

// ---------------------------------------------------------------------------------------------
// Operations

const SENSITIVE = new Set(['hello', 'ismaster', 'isMaster', 'saslStart', 'saslContinue', 'authenticate', 'getnonce']);

function driverOptions(args, names) {
  const options = {};
  for (const [key, value] of Object.entries(args)) {
    if (names.includes(key)) continue;
    if (key === 'returnDocument') options.returnDocument = value.toLowerCase();
    else options[key] = value;
  }
  return options;
}

function bulkRequest(request) {
  const [kind] = Object.keys(request);
  return { [kind]: request[kind] };
}

function writeResult(result) {
  return {
    insertedCount: result.insertedCount,
    insertedIds: result.insertedIds,
    matchedCount: result.matchedCount,
    modifiedCount: result.modifiedCount,
    deletedCount: result.deletedCount,
    upsertedCount: result.upsertedCount,
    upsertedIds: result.upsertedIds,
  };
}

async function runOperation(operation, entities) {
  const target = entities.get(operation.object);
  const args = operation.arguments ?? {};
  switch (operation.name) {
    case 'aggregate': {
      const cursor = target.aggregate(args.pipeline, driverOptions(args, ['pipeline']));
      return cursor.toArray();
    }
    case 'find':
      return target.find(args.filter ?? {}, driverOptions(args, ['filter'])).toArray();
    case 'findOne':
      return target.findOne(args.filter ?? {}, driverOptions(args, ['filter']));
    case 'countDocuments':
      return target.countDocuments(args.filter ?? {}, driverOptions(args, ['filter']));
    case 'count':
      return target.count(args.filter ?? {}, driverOptions(args, ['filter']));
    case 'estimatedDocumentCount':
      return target.estimatedDocumentCount(driverOptions(args, []));
    case 'distinct':
      return target.distinct(args.fieldName, args.filter ?? {}, driverOptions(args, ['fieldName', 'filter']));
    case 'insertOne':
      return target.insertOne(args.document, driverOptions(args, ['document']));
    case 'insertMany':
      return target.insertMany(args.documents, driverOptions(args, ['documents']));
    case 'deleteOne':
      return target.deleteOne(args.filter, driverOptions(args, ['filter']));
    case 'deleteMany':
      return target.deleteMany(args.filter, driverOptions(args, ['filter']));
    case 'updateOne':
      return target.updateOne(args.filter, args.update, driverOptions(args, ['filter', 'update']));
    case 'updateMany':
      return target.updateMany(args.filter, args.update, driverOptions(args, ['filter', 'update']));
    case 'replaceOne':
      return target.replaceOne(args.filter, args.replacement, driverOptions(args, ['filter', 'replacement']));
    case 'findOneAndDelete':
      return target.findOneAndDelete(args.filter, driverOptions(args, ['filter']));
    case 'findOneAndUpdate':
      return target.findOneAndUpdate(args.filter, args.update, driverOptions(args, ['filter', 'update']));
    case 'findOneAndReplace':
      return target.findOneAndReplace(args.filter, args.replacement, driverOptions(args, ['filter', 'replacement']));
    case 'bulkWrite':
      return writeResult(await target.bulkWrite(args.requests.map(bulkRequest), driverOptions(args, ['requests'])));
    case 'createIndex':
      return target.createIndex(args.keys, driverOptions(args, ['keys']));
    case 'dropCollection':
      return target.dropCollection(args.collection, driverOptions(args, ['collection']));
    case 'createCollection':
      return target.createCollection(args.collection, driverOptions(args, ['collection']));
    case 'modifyCollection': {
      const { collection, ...rest } = args;
      return target.command({ collMod: collection, ...rest });
    }
    default:
      throw new Error(`runner: unsupported operation ${operation.name}`);
  }
}

function plainResult(name, result) {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return result;
  if (name === 'insertOne') return { insertedId: result.insertedId };
  if (name === 'insertMany') return { insertedIds: result.insertedIds };
  if (name === 'deleteOne' || name === 'deleteMany') return { deletedCount: result.deletedCount };
  if (name === 'updateOne' || name === 'updateMany' || name === 'replaceOne') {
    const plain = {
      matchedCount: result.matchedCount,
      modifiedCount: result.modifiedCount,
      upsertedCount: result.upsertedCount,
    };
    if (result.upsertedId !== null && result.upsertedId !== undefined) plain.upsertedId = result.upsertedId;
    return plain;
  }
  return result;
}

function checkError(expected, error, entities) {
  if (!error) fail('error', 'expected an error, the operation succeeded');
  const fromServer = error instanceof MongoServerError;
  if (expected.isClientError === true && fromServer)
    fail('error', `expected a client error, got server error ${error.code}: ${error.message}`);
  if (expected.isClientError === false && !fromServer) fail('error', `expected a server error, got ${error.message}`);
  if (expected.errorContains && !error.message.toLowerCase().includes(expected.errorContains.toLowerCase()))
    fail('error.message', `expected to contain "${expected.errorContains}", got "${error.message}"`);
  if (expected.errorCode !== undefined && error.code !== expected.errorCode)
    fail('error.code', `expected ${expected.errorCode}, got ${error.code} (${error.codeName}): ${error.message}`);
  if (
    expected.errorCodeName !== undefined &&
    String(error.codeName).toLowerCase() !== expected.errorCodeName.toLowerCase()
  )
    fail('error.codeName', `expected ${expected.errorCodeName}, got ${error.codeName}: ${error.message}`);
  if (expected.errorResponse) match(expected.errorResponse, error.errorResponse ?? {}, 'errorResponse', true, entities);
  if (expected.expectResult) matchResult(expected.expectResult, writeResult(error.result ?? {}), entities);
}

// ---------------------------------------------------------------------------------------------
// A test

async function createEntities(specs, uri, entities, clients, events) {
  for (const spec of specs) {
    const [kind] = Object.keys(spec);
    const entity = spec[kind];
    if (kind === 'client') {
      const client = new MongoClient(uri, {
        monitorCommands: true,
        serverSelectionTimeoutMS: 5000,
        ...(entity.uriOptions ?? {}),
      });
      const observed = [];
      const wanted = new Set(entity.observeEvents ?? []);
      const ignored = new Set([...(entity.ignoreCommandMonitoringEvents ?? []), 'configureFailPoint']);
      for (const type of ['commandStarted', 'commandSucceeded', 'commandFailed']) {
        client.on(type, (event) => {
          if (!wanted.has(`${type}Event`) || ignored.has(event.commandName) || SENSITIVE.has(event.commandName)) return;
          observed.push({ type: `${type}Event`, event });
        });
      }
      await client.connect();
      entities.set(entity.id, client);
      clients.push(client);
      events.set(entity.id, observed);
    } else if (kind === 'database') {
      const options = { ...(entity.databaseOptions ?? {}) };
      if (options.readPreference) {
        const { mode, ...rest } = options.readPreference;
        options.readPreference = new ReadPreference(mode, undefined, rest);
      }
      entities.set(entity.id, entities.get(entity.client).db(entity.databaseName, options));
    } else if (kind === 'collection') {
      entities.set(
        entity.id,
        entities.get(entity.database).collection(entity.collectionName, entity.collectionOptions ?? {}),
      );
    } else throw new Error(`runner: unsupported entity ${kind}`);
  }
}

async function loadInitialData(admin, initialData) {
  for (const data of initialData ?? []) {
    const db = admin.db(data.databaseName);
    await db.dropCollection(data.collectionName).catch(() => undefined);
    await db.createCollection(data.collectionName, data.createOptions ?? {});
    if (data.documents.length) await db.collection(data.collectionName).insertMany(data.documents);
  }
}

function checkEvents(expectations, events, entities) {
  for (const { client, events: expected, ignoreExtraEvents, eventType } of expectations) {
    if (eventType && eventType !== 'command') continue;
    const actual = events.get(client) ?? [];
    if (ignoreExtraEvents ? actual.length < expected.length : actual.length !== expected.length) {
      fail(
        `events(${client})`,
        `expected ${expected.length} events, got ${actual.length}: ${actual.map((e) => `${e.type}:${e.event.commandName}`).join(', ')}`,
      );
    }
    expected.forEach((expectation, i) => {
      const [type] = Object.keys(expectation);
      const wanted = expectation[type];
      const { type: actualType, event } = actual[i];
      if (actualType !== type) fail(`events[${i}]`, `expected ${type}, got ${actualType} (${event.commandName})`);
      if (wanted.commandName && wanted.commandName !== event.commandName)
        fail(`events[${i}].commandName`, `expected ${wanted.commandName}, got ${event.commandName}`);
      if (wanted.databaseName && wanted.databaseName !== event.databaseName)
        fail(`events[${i}].databaseName`, `expected ${wanted.databaseName}, got ${event.databaseName}`);
      if (wanted.command) match(wanted.command, event.command, `events[${i}].command`, true, entities);
      if (wanted.reply) match(wanted.reply, event.reply, `events[${i}].reply`, true, entities);
    });
  }
}

async function checkOutcome(admin, outcome, entities) {
  for (const expected of outcome ?? []) {
    const docs = await admin
      .db(expected.databaseName)
      .collection(expected.collectionName)
      .find({}, { sort: { _id: 1 } })
      .toArray();
    if (docs.length !== expected.documents.length)
      fail(
        `outcome ${expected.collectionName}`,
        `expected ${expected.documents.length} documents, got ${docs.length}: ${show(docs)}`,
      );
    expected.documents.forEach((doc, i) =>
      match(doc, docs[i], `outcome ${expected.collectionName}[${i}]`, false, entities),
    );
  }
}

async function runTest(file, test, uri, admin) {
  const entities = new Map();
  const clients = [];
  const events = new Map();
  try {
    await loadInitialData(admin, file.initialData);
    await createEntities(file.createEntities, uri, entities, clients, events);
    for (const operation of test.operations) {
      let result;
      let error;
      try {
        result = plainResult(operation.name, await runOperation(operation, entities));
      } catch (caught) {
        if (caught instanceof Error && caught.message.startsWith('runner:')) throw caught;
        error = caught;
      }
      const label = `operation ${operation.name}`;
      if (operation.ignoreResultAndError) continue;
      try {
        if (operation.expectError) checkError(operation.expectError, error, entities);
        else if (error) fail('error', `unexpected ${error.constructor.name} ${error.code ?? ''}: ${error.message}`);
        else if (operation.expectResult !== undefined) matchResult(operation.expectResult, result, entities);
        if (operation.saveResultAsEntity) entities.set(operation.saveResultAsEntity, result);
      } catch (mismatch) {
        if (mismatch instanceof Mismatch) throw new Mismatch(`${label}: ${mismatch.message}`);
        throw mismatch;
      }
    }
    if (test.expectEvents) checkEvents(test.expectEvents, events, entities);
    await checkOutcome(admin, test.outcome, entities);
    return undefined;
  } catch (error) {
    return error instanceof Mismatch ? error.message : `runner error: ${error.stack ?? error}`;
  } finally {
    for (const client of clients) await client.close();
  }
}

/** Runs every file against one target; returns per-test results. */
async function runAll(files, uri, grep) {
  const server = await describeServer(uri);
  const admin = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 5000 });
  const results = [];
  try {
    for (const { name, content } of files) {
      for (const test of content.tests) {
        const id = `${name}: ${test.description}`;
        if (grep && !id.includes(grep)) continue;
        const outOfScope = scopeOf({ ...content, name }, test, server);
        if (outOfScope) {
          results.push({ id, status: 'out of scope', reason: outOfScope });
          continue;
        }
        const failure = await runTest(content, test, uri, admin);
        results.push({ id, status: failure ? 'fail' : 'pass', reason: failure });
      }
    }
  } finally {
    await admin.close();
  }
  return { server, results };
}

function report(label, { server, results }) {
  const count = (status) => results.filter((result) => result.status === status).length;
  const passed = count('pass');
  const failed = count('fail');
  const inScope = passed + failed;
  console.log(`\n== ${label} (MongoDB ${server.version.join('.')}, topology ${server.topology})`);
  for (const result of results.filter((r) => r.status === 'fail'))
    console.log(`FAIL ${result.id}\n     ${result.reason}`);
  const reasons = new Map();
  for (const result of results.filter((r) => r.status === 'out of scope'))
    reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
  console.log(`\nout of scope: ${results.length - inScope}`);
  for (const [reason, n] of reasons) console.log(`  ${n}  ${reason}`);
  const percent = inScope ? ((100 * passed) / inScope).toFixed(1) : '0';
  console.log(`in scope: ${inScope}; passed ${passed}, failed ${failed} (${percent}% pass)`);
}

const args = parseArgs(process.argv.slice(2));
const directory = join(resolve(args.checkout), 'source/crud/tests/unified');
const files = readdirSync(directory)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => ({ name, content: EJSON.parse(readFileSync(join(directory, name), 'utf8'), { relaxed: true }) }));

const { EmbeddedMongo, cleanup } = await loadStore();
const store = await EmbeddedMongo.start({ log: () => undefined });
const runs = [];
try {
  runs.push(['embedded store', await runAll(files, store.uri, args.grep)]);
} finally {
  await store.stop();
  cleanup();
}
if (process.env.MONGODB_URI) runs.push([`MONGODB_URI`, await runAll(files, process.env.MONGODB_URI, args.grep)]);
for (const [label, run] of runs) report(label, run);
if (args.json) writeFileSync(args.json, JSON.stringify(Object.fromEntries(runs), null, 2));
