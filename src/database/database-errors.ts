/**
 * Driver errors that mean "the database cannot be reached right now", as opposed to an error
 * about one operation. Matched by name, so mongoose's wrappers and its bundled copy of the
 * driver count too (`instanceof` against our driver's classes is false for those).
 */
const UNREACHABLE_ERROR_NAMES = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNotConnectedError',
  'MongoPoolClearedError',
  'PoolClearedOnNetworkError',
  'MongoTopologyClosedError',
]);

/**
 * True when the error, or an error it wraps, says the database is unreachable. An unordered
 * `insertMany` that loses its connection or finds no server throws a `MongoBulkWriteError`
 * carrying the network or server-selection error in `errorResponse`, not a network error itself.
 */
export function isDatabaseUnreachable(error: unknown): error is Error {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if (UNREACHABLE_ERROR_NAMES.has(current.name)) return true;
    const { errorResponse } = current as { errorResponse?: unknown };
    current = errorResponse instanceof Error ? errorResponse : current.cause;
  }
  return false;
}
