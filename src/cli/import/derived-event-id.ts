import { createHash } from 'node:crypto';

/**
 * The eventId of an imported record that has none: a hash of its line number and its exact text.
 * Re-importing the same file (after a crash, or by mistake) gives every record the same id, so
 * nothing is stored twice; appending to the file leaves earlier ids unchanged. The line number is
 * part of it because two identical lines are two real hits (e.g. two page views without a
 * timestamp). Editing a line, or inserting lines above it, makes it a new hit.
 */
export function derivedEventId(line: number, text: string): string {
  return `import-${createHash('sha256').update(`${line}\n${text}`).digest('hex').slice(0, 40)}`;
}
