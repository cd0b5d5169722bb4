import { DUPLICATE_KEY_CODE } from './database-errors.js';

export interface BulkWriteErrorEntry {
  index: number;
  code: number;
}

/**
 * The per-document errors of a failed unordered bulk write, or undefined when the whole write
 * failed. Duck-typed on purpose: mongoose bundles its own copy of the driver, so `instanceof
 * MongoBulkWriteError` against ours is false for the errors it throws.
 */
export function bulkWriteErrors(error: unknown): BulkWriteErrorEntry[] | undefined {
  if (typeof error !== 'object' || error === null || !('writeErrors' in error)) return undefined;
  const raw = (error as { writeErrors: unknown }).writeErrors;
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const entries = list.filter(
    (entry): entry is BulkWriteErrorEntry =>
      typeof entry === 'object' && entry !== null && typeof entry.index === 'number' && typeof entry.code === 'number',
  );
  return entries.length > 0 ? entries : undefined;
}

export interface InsertOutcome {
  /** Positions (in the given array) rejected by a unique index (a repeated eventId). */
  duplicateIndexes: number[];
  /** Positions that failed for any other reason. */
  failedIndexes: number[];
}

/**
 * One unordered `insertMany` for a whole group commit: every valid document is written even
 * when some collide with a unique index. Throws only when the write as a whole failed.
 */
export async function insertUnordered<T>(
  collection: { insertMany(documents: T[], options: { ordered: false }): Promise<unknown> },
  documents: T[],
): Promise<InsertOutcome> {
  const outcome: InsertOutcome = { duplicateIndexes: [], failedIndexes: [] };
  if (documents.length === 0) return outcome;
  try {
    await collection.insertMany(documents, { ordered: false });
  } catch (error) {
    const writeErrors = bulkWriteErrors(error);
    if (!writeErrors) throw error;
    for (const writeError of writeErrors) {
      if (writeError.code === DUPLICATE_KEY_CODE) outcome.duplicateIndexes.push(writeError.index);
      else outcome.failedIndexes.push(writeError.index);
    }
  }
  return outcome;
}
