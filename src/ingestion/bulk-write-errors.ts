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
