import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { deserialize, Long } from 'bson';
import { peekCommandName } from '../../libs/embedded-mongo/src/wire.js';
import { startWireProxy } from './wire-proxy.js';

/**
 * Records what an app sends its store, to replay the same commands against two store builds and
 * compare their CPU on identical work (the app's own timing makes two live runs differ: batch
 * sizes, rollup runs, retries). A TCP proxy between app and store writes one JSON line per client
 * message, in the order the store received them (written when the proxy stops): connection, the message (base64) and, when its
 * reply opened a cursor, the cursor's id, so the replay can point later getMores at its own.
 */
export interface RecordedMessage {
  connection: number;
  message: string;
  /** The reply's `cursor.id`, when not 0 (as a decimal string). */
  cursorId?: string;
  /** No reply expected (OP_MSG moreToCome). */
  noReply?: boolean;
}

const OP_MSG = 2013;
const MORE_TO_COME = 2;

/** The body document of an OP_MSG (section kind 0); undefined for other opcodes. */
export function msgBody(message: Buffer): Record<string, unknown> | undefined {
  if (message.readInt32LE(12) !== OP_MSG) return undefined;
  let offset = 20;
  while (offset < message.length) {
    const kind = message[offset++];
    const size = message.readInt32LE(offset);
    if (kind === 0) return deserialize(message.subarray(offset, offset + size), { promoteLongs: false });
    offset += size;
  }
  return undefined;
}

export function expectsReply(message: Buffer): boolean {
  return !(message.readInt32LE(12) === OP_MSG && (message.readUInt32LE(16) & MORE_TO_COME) !== 0);
}

/** A reply's cursor id, when it opened a cursor that stays open. */
export function replyCursorId(reply: Buffer): string | undefined {
  const body = msgBody(reply) as { cursor?: { id?: unknown } } | undefined;
  const id = body?.cursor?.id;
  if (id instanceof Long) return id.isZero() ? undefined : id.toString();
  return typeof id === 'number' && id !== 0 ? String(id) : undefined;
}

/** Commands the driver's monitor and pool send on their own schedule: not the app's work. */
export const HOUSEKEEPING = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'endSessions', 'buildInfo']);

export async function startRecordingProxy(
  storePort: number,
  file: string,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const records: RecordedMessage[] = [];
  let nextConnection = 1;
  const proxy = await startWireProxy(storePort, () => {
    const connection = nextConnection++;
    // Requests waiting for their reply, in order: the reply completes the record.
    const pending: Array<RecordedMessage | undefined> = [];
    return {
      fromApp(message) {
        const name = peekCommandName(message);
        const record: RecordedMessage = { connection, message: message.toString('base64') };
        if (!expectsReply(message)) record.noReply = true;
        const housekeeping = name !== undefined && HOUSEKEEPING.has(name);
        // In arrival order, which is the order the store starts running them.
        if (!housekeeping) records.push(record);
        if (!record.noReply) pending.push(housekeeping ? undefined : record);
      },
      fromStore(reply) {
        const record = pending.shift();
        const cursorId = record && replyCursorId(reply);
        if (record && cursorId) record.cursorId = cursorId;
      },
    };
  });
  return {
    port: proxy.port,
    async stop() {
      await proxy.stop();
      // A line at a time: a few minutes of traffic is more text than one string may hold.
      const fd = openSync(file, 'w');
      try {
        for (const record of records) writeSync(fd, `${JSON.stringify(record)}\n`);
      } finally {
        closeSync(fd);
      }
    },
  };
}

export function readRecording(file: string): RecordedMessage[] {
  // Line by line from the bytes: the whole file is more text than one string may hold.
  const bytes = readFileSync(file);
  const records: RecordedMessage[] = [];
  for (let start = 0; start < bytes.length;) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    if (end > start) records.push(JSON.parse(bytes.toString('utf8', start, end)) as RecordedMessage);
    start = end + 1;
  }
  return records;
}
