import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  MongoBulkWriteError,
  MongoError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  type BulkWriteResult,
  type TopologyDescription,
} from 'mongodb';
import { isDatabaseUnreachable } from './database-errors.js';

const noResult = {} as BulkWriteResult;

interface PoolErrors {
  PoolClearedError: new (pool: { address: string; serverError?: Error }) => Error;
  PoolClearedOnNetworkError: new (pool: { address: string; serverError?: Error }) => Error;
}

/**
 * The driver does not export its pool errors, so they are loaded from where it defines them:
 * our copy and the one bundled with mongoose, whose errors the app's repositories see.
 */
const require = createRequire(import.meta.url);
const driverCopies: Array<[string, PoolErrors]> = [
  ['mongodb', require('mongodb/lib/cmap/errors.js') as PoolErrors],
  [
    "mongoose's mongodb",
    require(
      require.resolve('mongodb/lib/cmap/errors.js', { paths: [dirname(require.resolve('mongoose'))] }),
    ) as PoolErrors,
  ],
];

/** The error a failed heartbeat records on the pool, labelled as the driver's monitor labels it. */
function monitorTimeout(address: string): MongoNetworkTimeoutError {
  const error = new MongoNetworkTimeoutError(`connection <monitor> to ${address} timed out`);
  error.addErrorLabel('ResetPool');
  error.addErrorLabel('InterruptInUseConnections');
  return error;
}

describe('isDatabaseUnreachable', () => {
  it('recognises network and server-selection errors', () => {
    expect(isDatabaseUnreachable(new MongoNetworkError('connection reset'))).toBe(true);
    expect(isDatabaseUnreachable(new MongoServerSelectionError('timed out', {} as TopologyDescription))).toBe(true);
  });

  it('sees through the bulk-write error an unordered insertMany wraps them in', () => {
    const wrapped = new MongoBulkWriteError(
      new MongoNetworkError('interrupted due to server monitor timeout'),
      noResult,
    );
    expect(wrapped.name).toBe('MongoBulkWriteError');
    expect(isDatabaseUnreachable(wrapped)).toBe(true);
  });

  it.each(driverCopies)(
    "recognises %s's interruption of in-flight operations after a heartbeat timed out",
    (_copy, { PoolClearedOnNetworkError, PoolClearedError }) => {
      const address = '127.0.0.1:27017';
      const pool = { address, serverError: monitorTimeout(address) };
      const interrupted = new PoolClearedOnNetworkError(pool);
      expect(interrupted.message).toBe(`Connection to ${address} interrupted due to server monitor timeout`);
      expect(isDatabaseUnreachable(interrupted)).toBe(true);
      expect(isDatabaseUnreachable(new PoolClearedError(pool))).toBe(true);
      expect(isDatabaseUnreachable(new Error('flush failed', { cause: interrupted }))).toBe(true);
      expect(isDatabaseUnreachable(new AggregateError([new Error('other'), interrupted]))).toBe(true);
    },
  );

  it('recognises an error of an unknown class by the labels a lost heartbeat leaves on it', () => {
    const labelled = new MongoError('interrupted');
    labelled.addErrorLabel('InterruptInUseConnections');
    expect(isDatabaseUnreachable(labelled)).toBe(true);
  });

  it('leaves errors about the operation itself alone', () => {
    const duplicate = new MongoBulkWriteError(
      { message: 'E11000 duplicate key', code: 11000, writeErrors: [] },
      noResult,
    );
    expect(isDatabaseUnreachable(duplicate)).toBe(false);
    expect(isDatabaseUnreachable(new MongoServerError({ message: 'Document failed validation', code: 121 }))).toBe(
      false,
    );
    expect(isDatabaseUnreachable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnreachable('MongoNetworkError')).toBe(false);
  });
});
