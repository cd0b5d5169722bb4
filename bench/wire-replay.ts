import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Long, serialize } from 'bson';
import { MessageSplitter } from '../libs/embedded-mongo/src/wire.js';
import { freePort } from './lib/children.js';
import { cpuSeconds } from './lib/process-stats.js';
import { msgBody, readRecording, replyCursorId, type RecordedMessage } from './lib/wire-recording.js';

/**
 * `npm run bench -- wire-replay <recording> <cli.js> [<cli.js> …]`: replays a recording of an
 * app's traffic (BENCH_RECORD_WIRE, see wire-recording.ts) against each given store build in turn,
 * each in a process of its own with a fresh data directory, one message at a time in the recorded
 * order, and prints the store's CPU seconds and µs per message: two store builds compared on
 * identical work, where two live bench runs differ by the app's timing. BENCH_REPLAY_PROFILE_DIR
 * runs each store with --cpu-prof into that directory.
 */
const [recordingFile, ...clis] = process.argv.slice(2);
if (!recordingFile || clis.length === 0) throw new Error('usage: wire-replay <recording> <cli.js> [<cli.js> …]');
const recording = readRecording(recordingFile);
const profileDir = process.env.BENCH_REPLAY_PROFILE_DIR;
/** BENCH_REPLAY_BREAKDOWN=1: where each build's time goes, by command and collection (`breakdownKey`). */
const breakdown = process.env.BENCH_REPLAY_BREAKDOWN === '1';
const hits = recordedHits(recording);

/**
 * Hits the recording carries: documents inserted into `hits` (in the body or, as the driver
 * sends them, in a `documents` sequence), so that a store's CPU reads per hit as in the app-cost
 * scenario's "store µs/hit".
 */
function recordedHits(messages: RecordedMessage[]): number {
  let count = 0;
  for (const record of messages) {
    const message = Buffer.from(record.message, 'base64');
    const body = msgBody(message);
    if (body?.insert !== 'hits') continue;
    if (Array.isArray(body.documents)) {
      count += body.documents.length;
      continue;
    }
    // OP_MSG sections after the flags, up to a checksum if flagged: kind 0 (body), kind 1 (size,
    // identifier, documents).
    const end = message.readUInt32LE(16) & 1 ? message.length - 4 : message.length;
    for (let offset = 20; offset < end;) {
      const kind = message[offset++];
      const size = message.readInt32LE(offset);
      if (kind === 1) {
        const nameEnd = message.indexOf(0, offset + 4);
        if (message.toString('utf8', offset + 4, nameEnd) === 'documents') {
          for (let at = nameEnd + 1; at < offset + size; at += message.readInt32LE(at)) count++;
        }
      }
      offset += size;
    }
  }
  return count;
}

interface Store {
  pid: number;
  port: number;
  stop: () => Promise<void>;
}

async function startStore(cli: string, dataDir: string, label: string): Promise<Store> {
  const port = await freePort();
  // BENCH_STORE_NODE_ARGS: node flags for every replayed store (e.g. `--max-semi-space-size=64 --trace-gc`).
  const args = ['--max-old-space-size=8192', ...(process.env.BENCH_STORE_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  if (profileDir) args.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${label}.cpuprofile`);
  const child = spawn(process.execPath, [...args, cli, '--port', String(port), '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('READY ')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`store exited (${code})`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid!,
    port,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One connection of the replay: sends a message and resolves with its reply. */
class ReplayConnection {
  private readonly splitter = new MessageSplitter(64 * 1024 * 1024);
  private waiting: ((reply: Buffer) => void) | undefined;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const reply of this.splitter.push(chunk)) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve?.(reply);
      }
    });
  }

  static open(port: number): Promise<ReplayConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new ReplayConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(message: Buffer, expectReply: boolean): Promise<Buffer | undefined> {
    if (!expectReply) {
      this.socket.write(message);
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(message);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The message with its recorded cursor ids (getMore, killCursors) replaced by this replay's. */
function withLiveCursorIds(message: Buffer, cursors: Map<string, Long>): Buffer {
  const body = msgBody(message);
  if (!body || !('getMore' in body || 'killCursors' in body)) return message;
  const live = (id: unknown): unknown => cursors.get(String(id)) ?? id;
  const rewritten =
    'getMore' in body
      ? { ...body, getMore: live(body.getMore) }
      : { ...body, cursors: (body.cursors as unknown[]).map(live) };
  const payload = serialize(rewritten);
  const head = Buffer.alloc(21);
  message.copy(head, 0, 0, 16);
  head.writeInt32LE(21 + payload.length, 0);
  head.writeUInt32LE(message.readUInt32LE(16) & ~1, 16); // no checksum after rewriting
  head[20] = 0;
  return Buffer.concat([head, payload]);
}

/**
 * A reply as a comparable string: cursor ids, `localTime` and the ObjectIds an upsert generates
 * (`_id`, `upserted`) differ between any two runs, so they are left out; everything else must be
 * equal between builds.
 */
function comparable(reply: Buffer): string {
  const body = msgBody(reply);
  if (!body) return reply.toString('base64');
  return JSON.stringify(body, function (this: Record<string, unknown>, key: string, value: unknown) {
    if (key === 'id' || key === 'localTime' || key === 'operationTime' || key === 'connectionId') return undefined;
    // An upsert's generated `_id` (`value` is already its toJSON(), the holder has the ObjectId).
    const original = this[key] as { _bsontype?: string } | null | undefined;
    if ((key === '_id' || key === 'upserted') && original?._bsontype === 'ObjectId') return 'oid';
    return value;
  });
}

const repliesByBuild: string[][] = [];

/**
 * What a message is, for the breakdown: its command and collection, and for a `find` the fields
 * its filter names (the sessionizer's reads of `hits` by visitor and the rollup job's by claim
 * are both `find hits`); a `getMore` counts as the command that opened its cursor.
 */
function breakdownKey(body: Record<string, unknown> | undefined, cursorKeys: Map<string, string>): string {
  if (!body) return 'other';
  const command = Object.keys(body)[0];
  if (command === 'getMore') return cursorKeys.get(String(body.getMore)) ?? 'getMore';
  const collection = typeof body[command] === 'string' ? ` ${body[command] as string}` : '';
  const filter = command === 'find' && body.filter ? ` {${Object.keys(body.filter).join(',')}}` : '';
  return `${command}${collection}${filter}`;
}

/** Per key: messages, wall ms until the reply, and store CPU ticks seen during them (from `/proc`, 10 ms each). */
type Breakdown = Map<string, { messages: number; wallMs: number; cpuSeconds: number }>;

function printBreakdown(cli: string, rows: Breakdown): void {
  const total = [...rows.values()].reduce((sum, row) => sum + row.cpuSeconds, 0);
  console.log(`${cli}: store CPU by command (CPU seen between sending a message and its reply; 10 ms ticks)`);
  console.log('  messages | wall ms | CPU s | CPU share | CPU µs per hit | command');
  for (const [key, row] of [...rows].sort((a, b) => b[1].cpuSeconds - a[1].cpuSeconds)) {
    console.log(
      `  ${String(row.messages).padStart(8)} | ${Math.round(row.wallMs).toString().padStart(7)} | ` +
        `${row.cpuSeconds.toFixed(2).padStart(5)} | ${((100 * row.cpuSeconds) / total).toFixed(1).padStart(8)}% | ` +
        `${(hits > 0 ? Math.round((row.cpuSeconds * 1e6) / hits) : 0).toString().padStart(14)} | ${key}`,
    );
  }
}

async function replay(cli: string, index: number): Promise<void> {
  const replies: string[] = [];
  repliesByBuild.push(replies);
  const dataDir = mkdtempSync(join(tmpdir(), 'siteline-replay-'));
  const store = await startStore(cli, dataDir, `replay-${index}`);
  const connections = new Map<number, ReplayConnection>();
  const cursors = new Map<string, Long>();
  const rows: Breakdown = new Map();
  const cursorKeys = new Map<string, string>();
  const before = cpuSeconds(store.pid);
  const started = performance.now();
  let replied = 0;
  try {
    for (const record of recording as RecordedMessage[]) {
      let connection = connections.get(record.connection);
      if (!connection) {
        connection = await ReplayConnection.open(store.port);
        connections.set(record.connection, connection);
      }
      const recorded = Buffer.from(record.message, 'base64');
      const message = withLiveCursorIds(recorded, cursors);
      const key = breakdown ? breakdownKey(msgBody(recorded), cursorKeys) : '';
      const sentAt = breakdown ? performance.now() : 0;
      const cpuBefore = breakdown ? cpuSeconds(store.pid).total : 0;
      const reply = await connection.send(message, !record.noReply);
      if (breakdown) {
        const row = rows.get(key) ?? { messages: 0, wallMs: 0, cpuSeconds: 0 };
        row.messages++;
        row.wallMs += performance.now() - sentAt;
        row.cpuSeconds += cpuSeconds(store.pid).total - cpuBefore;
        rows.set(key, row);
        if (record.cursorId) cursorKeys.set(record.cursorId, key);
      }
      if (reply) replied++;
      replies.push(reply ? comparable(reply) : '');
      const liveId = reply && replyCursorId(reply);
      if (record.cursorId && liveId) cursors.set(record.cursorId, Long.fromString(liveId));
    }
    const after = cpuSeconds(store.pid);
    const cpu = after.total - before.total;
    console.log(
      `${cli}: ${recording.length} messages (${replied} replies) in ${Math.round(performance.now() - started)} ms; ` +
        `store CPU ${cpu.toFixed(2)} s (main thread ${(after.mainThread - before.mainThread).toFixed(2)} s), ` +
        `${Math.round((cpu * 1e6) / recording.length)} µs per message` +
        (hits > 0 ? `, ${Math.round((cpu * 1e6) / hits)} µs per hit (${hits} hits)` : ''),
    );
    if (breakdown) printBreakdown(cli, rows);
  } finally {
    for (const connection of connections.values()) connection.close();
    await store.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const [index, cli] of clis.entries()) await replay(cli, index);
// The builds must answer alike: the first differences, by message, with the command that got them.
for (let build = 1; build < repliesByBuild.length; build++) {
  let differing = 0;
  for (const [i, reply] of repliesByBuild[build].entries()) {
    if (reply === repliesByBuild[0][i]) continue;
    if (differing++ < 5) {
      const body = msgBody(Buffer.from(recording[i].message, 'base64'));
      console.log(
        `message ${i} (${JSON.stringify(body).slice(0, 300)}):\n  ${clis[0]}: ${repliesByBuild[0][i].slice(0, 400)}\n  ${clis[build]}: ${reply.slice(0, 400)}`,
      );
    }
  }
  console.log(`${clis[build]} vs ${clis[0]}: ${differing} of ${recording.length} replies differ`);
}
