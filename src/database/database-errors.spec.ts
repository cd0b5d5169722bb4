import { describe, expect, it } from '@jest/globals';
import {
  MongoBulkWriteError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  type BulkWriteResult,
  type TopologyDescription,
} from 'mongodb';
import { isDatabaseUnreachable } from './database-errors.js';

const noResult = {} as BulkWriteResult;

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
