import { deserialize, serialize, type Document } from 'bson';
import { toErrorReply } from './errors.js';

/**
 * MongoDB wire protocol framing. The driver opens each connection with a legacy OP_QUERY
 * `ismaster` and expects an OP_REPLY; everything after that is OP_MSG.
 */

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_MSG = 2013;

const FLAG_CHECKSUM_PRESENT = 1 << 0;
const FLAG_MORE_TO_COME = 1 << 1;
const HEADER_SIZE = 16;

export type IncomingMessage =
  | {
      kind: 'msg';
      requestId: number;
      /** Set for fire-and-forget messages (w:0 writes, endSessions): no reply may be sent. */
      moreToCome: boolean;
      body: Document;
      /** Kind-1 document-sequence sections, e.g. `documents` of an insert. */
      sequences: Map<string, Document[]>;
    }
  | { kind: 'query'; requestId: number; collection: string; query: Document }
  | { kind: 'unsupported'; requestId: number; opCode: number };

/**
 * Cuts a TCP byte stream into whole messages. Chunks are kept in a list and joined once per
 * message, so a large insert arriving in many 64 KiB reads is not re-copied on every read.
 */
export class MessageSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxMessageSize: number) {}

  /** Adds bytes and returns the messages now complete; throws on an impossible length. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const messages: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) return messages;
      const length = this.peekLength();
      if (length < HEADER_SIZE || length > this.maxMessageSize) {
        throw new Error(`invalid message length ${length} (${this.buffered} bytes buffered)`);
      }
      if (this.buffered < length) return messages;
      const joined = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      messages.push(joined.subarray(0, length));
      const rest = joined.subarray(length);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
    }
  }

  private peekLength(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readInt32LE(0);
    const head = Buffer.concat(this.chunks, this.buffered).subarray(0, 4);
    return head.readInt32LE(0);
  }
}

function readCString(buffer: Buffer, offset: number): [string, number] {
  const end = buffer.indexOf(0, offset);
  return [buffer.toString('utf8', offset, end), end + 1];
}

function readDocument(buffer: Buffer, offset: number): [Document, number] {
  const size = buffer.readInt32LE(offset);
  return [deserialize(buffer.subarray(offset, offset + size)), offset + size];
}

/** Name of a BSON document's first field (a command's name), read without deserializing it. */
function firstField(buffer: Buffer, offset: number): { type: number; name: string; valueAt: number } | undefined {
  if (offset + 5 > buffer.length || buffer[offset + 4] === 0) return undefined;
  const [name, valueAt] = readCString(buffer, offset + 5);
  return { type: buffer[offset + 4], name, valueAt };
}

/**
 * The command a message carries, peeked from its bytes: lets a listener answer heartbeats
 * without parsing (or waiting for) anything else. Undefined when it cannot tell.
 */
export function peekCommandName(message: Buffer): string | undefined {
  if (message.length < HEADER_SIZE + 5) return undefined;
  const opCode = message.readInt32LE(12);
  if (opCode === OP_MSG) {
    let offset = HEADER_SIZE + 4;
    while (offset < message.length) {
      const kind = message[offset++];
      if (kind === 0) return firstField(message, offset)?.name;
      offset += message.readInt32LE(offset);
    }
    return undefined;
  }
  if (opCode === OP_QUERY) {
    const collectionEnd = message.indexOf(0, HEADER_SIZE + 4);
    if (collectionEnd < 0) return undefined;
    const field = firstField(message, collectionEnd + 1 + 8);
    // `{ $query: { isMaster: 1 }, $readPreference: … }`: the command is the wrapped document's.
    const BSON_DOCUMENT = 3;
    return field?.name === '$query' && field.type === BSON_DOCUMENT
      ? firstField(message, field.valueAt)?.name
      : field?.name;
  }
  return undefined;
}

export function parseMessage(message: Buffer): IncomingMessage {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  if (opCode === OP_MSG) {
    const flags = message.readUInt32LE(HEADER_SIZE);
    const end = flags & FLAG_CHECKSUM_PRESENT ? message.length - 4 : message.length;
    let offset = HEADER_SIZE + 4;
    let body: Document = {};
    const sequences = new Map<string, Document[]>();
    while (offset < end) {
      const kind = message.readUInt8(offset++);
      if (kind === 0) {
        [body, offset] = readDocument(message, offset);
      } else {
        const sectionEnd = offset + message.readInt32LE(offset);
        const [identifier, firstDoc] = readCString(message, offset + 4);
        let cursor = firstDoc;
        const docs: Document[] = [];
        while (cursor < sectionEnd) {
          let doc: Document;
          [doc, cursor] = readDocument(message, cursor);
          docs.push(doc);
        }
        sequences.set(identifier, docs);
        offset = sectionEnd;
      }
    }
    return { kind: 'msg', requestId, moreToCome: (flags & FLAG_MORE_TO_COME) !== 0, body, sequences };
  }
  if (opCode === OP_QUERY) {
    const [collection, afterName] = readCString(message, HEADER_SIZE + 4);
    const [query] = readDocument(message, afterName + 8);
    return { kind: 'query', requestId, collection, query };
  }
  return { kind: 'unsupported', requestId, opCode };
}

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const buffer = Buffer.alloc(HEADER_SIZE);
  buffer.writeInt32LE(length, 0);
  buffer.writeInt32LE(requestId, 4);
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
  return buffer;
}

let lastRequestId = 0;

function nextRequestId(): number {
  lastRequestId = (lastRequestId + 1) & 0x7fffffff;
  return lastRequestId;
}

export function encodeMsg(responseTo: number, doc: Document): Buffer {
  const payload = serialize(doc);
  const prefix = Buffer.alloc(5);
  const head = header(HEADER_SIZE + prefix.length + payload.length, nextRequestId(), responseTo, OP_MSG);
  return Buffer.concat([head, prefix, payload]);
}

export function encodeReply(responseTo: number, doc: Document): Buffer {
  const payload = serialize(doc);
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(1, 16);
  const head = header(HEADER_SIZE + fields.length + payload.length, nextRequestId(), responseTo, OP_REPLY);
  return Buffer.concat([head, fields, payload]);
}

/**
 * The encoded answer to a message in its own opcode, or undefined for a moreToCome message
 * (which must not be answered). A reply too large to encode is answered with its error.
 */
export function encodeResponse(
  message: Exclude<IncomingMessage, { kind: 'unsupported' }>,
  reply: Document,
): Buffer | undefined {
  if (message.kind === 'msg' && message.moreToCome) return undefined;
  const encode = message.kind === 'query' ? encodeReply : encodeMsg;
  try {
    return encode(message.requestId, reply);
  } catch (error) {
    return encode(message.requestId, toErrorReply(error));
  }
}
