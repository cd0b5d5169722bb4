import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { deserialize, serialize, type Document } from 'bson';
import fc from 'fast-check';
import { EmbeddedMongo } from '../src/index.js';
import { MessageSplitter } from '../src/wire.js';

/**
 * Raw protocol checks against the embedded store: the legacy OP_QUERY handshake, OP_MSG
 * document sequences, moreToCome, and garbage input. (A real server needs no such test.)
 */

function opQuery(requestId: number, collection: string, query: Document): Buffer {
  const name = Buffer.from(`${collection}\0`);
  const body = serialize(query);
  const header = Buffer.alloc(20);
  header.writeInt32LE(16 + 4 + name.length + 8 + body.length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(2004, 12);
  const skipReturn = Buffer.alloc(8);
  skipReturn.writeInt32LE(-1, 4);
  return Buffer.concat([header, name, skipReturn, body]);
}

function opMsg(requestId: number, body: Document, flags = 0, sequence?: { id: string; docs: Document[] }): Buffer {
  const sections: Uint8Array[] = [Buffer.from([0]), serialize(body)];
  if (sequence) {
    const docs = Buffer.concat(sequence.docs.map((d) => serialize(d)));
    const id = Buffer.from(`${sequence.id}\0`);
    const size = Buffer.alloc(4);
    size.writeInt32LE(4 + id.length + docs.length, 0);
    sections.push(Buffer.from([1]), size, id, docs);
  }
  const payload = Buffer.concat(sections);
  const header = Buffer.alloc(20);
  header.writeInt32LE(20 + payload.length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(2013, 12);
  header.writeUInt32LE(flags, 16);
  return Buffer.concat([header, payload]);
}

/** Hands out whole replies read off a socket, in order. */
class Reader {
  private buffer = Buffer.alloc(0);
  private readonly waiting: Array<(message: Buffer) => void> = [];

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
  }

  next(): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.drain();
    });
  }

  private drain(): void {
    while (this.waiting.length && this.buffer.length >= 4 && this.buffer.length >= this.buffer.readInt32LE(0)) {
      const length = this.buffer.readInt32LE(0);
      const message = this.buffer.subarray(0, length);
      this.buffer = this.buffer.subarray(length);
      this.waiting.shift()!(message);
    }
  }
}

const msgBody = (message: Buffer): Document => deserialize(message.subarray(21));

describe('MessageSplitter', () => {
  it('reassembles messages however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
        (payloads, cuts) => {
          const messages = payloads.map((payload, i) => {
            const message = Buffer.alloc(16 + payload.length);
            message.writeInt32LE(message.length, 0);
            message.writeInt32LE(i, 4);
            Buffer.from(payload).copy(message, 16);
            return message;
          });
          const stream = Buffer.concat(messages);
          const splitter = new MessageSplitter(1024);
          const received: Buffer[] = [];
          let offset = 0;
          for (let c = 0; offset < stream.length; c++) {
            const size = cuts[c % cuts.length];
            received.push(...splitter.push(stream.subarray(offset, offset + size)));
            offset += size;
          }
          expect(received.map((m) => m.toString('hex'))).toEqual(messages.map((m) => m.toString('hex')));
        },
      ),
    );
  });
});

describe('wire protocol', () => {
  let store: EmbeddedMongo;
  let socket: Socket;
  let reader: Reader;
  const logged: string[] = [];

  beforeAll(async () => {
    store = await EmbeddedMongo.start({ log: (message) => logged.push(message) });
    socket = connect(store.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    reader = new Reader(socket);
  });
  afterAll(async () => {
    socket.destroy();
    await store.stop();
  });

  it('answers the legacy OP_QUERY isMaster with an OP_REPLY', async () => {
    socket.write(opQuery(7, 'admin.$cmd', { isMaster: 1, client: { driver: { name: 'raw' } } }));
    const reply = await reader.next();
    expect(reply.readInt32LE(8)).toBe(7);
    expect(reply.readInt32LE(12)).toBe(1);
    expect(reply.readInt32LE(32)).toBe(1);
    const doc = deserialize(reply.subarray(36));
    expect(doc).toMatchObject({ ok: 1, ismaster: true, isWritablePrimary: true, maxWireVersion: 21, helloOk: true });
    expect(doc).not.toHaveProperty('setName');
  });

  it('reads documents from an OP_MSG document sequence and skips replies for moreToCome', async () => {
    socket.write(opMsg(8, { insert: 'raw', $db: 'wire' }, 0, { id: 'documents', docs: [{ _id: 1 }, { _id: 2 }] }));
    expect(msgBody(await reader.next())).toEqual({ n: 2, ok: 1 });
    socket.write(
      opMsg(9, { insert: 'raw', $db: 'wire', writeConcern: { w: 0 } }, 2, { id: 'documents', docs: [{ _id: 3 }] }),
    );
    socket.write(opMsg(10, { count: 'raw', $db: 'wire' }));
    const next = await reader.next();
    expect(next.readInt32LE(8)).toBe(10);
    expect(msgBody(next)).toEqual({ n: 3, ok: 1 });
  });

  it('returns cursor ids as 64-bit longs', async () => {
    socket.write(opMsg(11, { find: 'raw', $db: 'wire', batchSize: 1 }));
    const raw = await reader.next();
    const doc = deserialize(raw.subarray(21), { promoteLongs: false });
    expect(doc.cursor.id._bsontype).toBe('Long');
  });

  it('survives a garbage message by closing only that connection', async () => {
    const bad = connect(store.port, '127.0.0.1');
    await new Promise((resolve) => bad.once('connect', resolve));
    const closed = new Promise((resolve) => bad.once('close', resolve));
    bad.write(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4]));
    await closed;
    expect(logged).toEqual([expect.stringContaining('invalid message length 2147483647')]);
    socket.write(opMsg(12, { ping: 1, $db: 'admin' }));
    expect(msgBody(await reader.next())).toEqual({ ok: 1 });
  });
});
