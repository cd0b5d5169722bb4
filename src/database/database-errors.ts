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
  // "Connection to … interrupted due to server monitor timeout": a heartbeat went unanswered.
  'PoolClearedOnNetworkError',
  'MongoServerClosedError',
  'MongoTopologyClosedError',
]);

/**
 * Labels the driver puts on errors caused by losing the server rather than by the operation:
 * a failed heartbeat (ResetPool, InterruptInUseConnections) and the operations its pool clear
 * cut short (PoolRequestedRetry). A future error class carrying them still counts.
 */
const UNREACHABLE_ERROR_LABELS = ['ResetPool', 'InterruptInUseConnections', 'PoolRequestedRetry'];

const MAX_WRAPPING_DEPTH = 6;

function saysUnreachable(error: Error): boolean {
  if (UNREACHABLE_ERROR_NAMES.has(error.name)) return true;
  const { errorLabels } = error as { errorLabels?: unknown };
  return Array.isArray(errorLabels) && errorLabels.some((label) => UNREACHABLE_ERROR_LABELS.includes(String(label)));
}

/**
 * True when the error, or an error it wraps, says the database is unreachable. An unordered
 * `insertMany` that loses its connection or finds no server throws a `MongoBulkWriteError`
 * carrying the network or server-selection error in `errorResponse`, not a network error itself;
 * `Promise.any` and friends wrap theirs in an `AggregateError`.
 */
export function isDatabaseUnreachable(error: unknown, depth = 0): error is Error {
  if (!(error instanceof Error) || depth >= MAX_WRAPPING_DEPTH) return false;
  if (saysUnreachable(error)) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isDatabaseUnreachable(inner, depth + 1)))
    return true;
  const { errorResponse } = error as { errorResponse?: unknown };
  return isDatabaseUnreachable(errorResponse instanceof Error ? errorResponse : error.cause, depth + 1);
}

/** The code of MongoDB's duplicate-key error, on a thrown error and on each write error of a bulk write. */
export const DUPLICATE_KEY_CODE = 11000;

/** MongoDB's duplicate-key error (code 11000): a unique index refused the write. */
export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === DUPLICATE_KEY_CODE;
}

/** MongoDB's codes for a collection (26, NamespaceNotFound) or an index (27, IndexNotFound) that does not exist. */
const NOT_FOUND_CODES = new Set([26, 27]);

/** A drop that found nothing to drop: the collection or the index does not exist (any more). */
export function isNotFoundError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && NOT_FOUND_CODES.has((error as { code?: unknown }).code as number)
  );
}
