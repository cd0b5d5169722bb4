import { randomUUID } from 'node:crypto';
import { Binary, type Document } from 'bson';
import { canonicalKey } from './bson-order.js';
import { CommandError } from './errors.js';
import { Index, type IndexSpec } from './indexes.js';
import { planScan, type ScanPlan } from './planner.js';

/** A physical change; the journal persists exactly these, and replaying them is idempotent. */
export type ChangeRecord =
  | { op: 'put'; ns: string; doc: Document }
  | { op: 'del'; ns: string; id: unknown }
  | { op: 'createCollection'; ns: string; options: Document }
  | { op: 'dropCollection'; ns: string }
  | { op: 'createIndex'; ns: string; spec: IndexSpec }
  | { op: 'dropIndex'; ns: string; name: string }
  | { op: 'dropDatabase'; db: string };

export type ChangeListener = (record: ChangeRecord) => void;

const ID_INDEX: IndexSpec = { v: 2, key: { _id: 1 }, name: '_id_' };

/** Where one stored document lives; index entries point at it (see `Documents`). */
export interface DocumentSlot {
  doc: Document;
}

/**
 * A collection's documents by canonical `_id`, in insertion order (our "natural order"), each
 * held in a slot that keeps its identity across updates. Index entries point at the slots, so
 * an index scan reaches its documents without a hash lookup per entry (at 10^6 hits a third of
 * a stats read), and an update that keeps a document's index keys leaves every index alone.
 */
export class Documents {
  private readonly slots = new Map<string, DocumentSlot>();

  get size(): number {
    return this.slots.size;
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  get(id: string): Document | undefined {
    return this.slots.get(id)?.doc;
  }

  /** Stores `doc` under `id`: in its existing slot (an update) or a new one; returns the slot. */
  set(id: string, doc: Document): DocumentSlot {
    const slot = this.slots.get(id);
    if (slot) {
      slot.doc = doc;
      return slot;
    }
    const created = { doc };
    this.slots.set(id, created);
    return created;
  }

  delete(id: string): boolean {
    return this.slots.delete(id);
  }

  *values(): Generator<Document> {
    for (const slot of this.slots.values()) yield slot.doc;
  }

  *[Symbol.iterator](): Generator<[string, DocumentSlot]> {
    yield* this.slots;
  }
}

export class Collection {
  readonly uuid = new Binary(Buffer.from(randomUUID().replace(/-/g, ''), 'hex'), Binary.SUBTYPE_UUID);
  readonly docs = new Documents();
  readonly indexes = new Map<string, Index>();

  constructor(
    readonly db: string,
    readonly name: string,
    readonly options: Document,
    private readonly emit: ChangeListener,
  ) {
    this.indexes.set('_id_', new Index(ID_INDEX));
  }

  /** Built once: every journal record of the collection names it. */
  get ns(): string {
    return (this.namespace ??= `${this.db}.${this.name}`);
  }
  private namespace: string | undefined;

  get(id: unknown): Document | undefined {
    return this.docs.get(canonicalKey(id));
  }

  /** Documents that may match `filter`: an index range when one applies, otherwise every document. */
  candidates(filter: Document): ScanPlan {
    return planScan(this, filter) ?? { documents: this.docs.values(), residual: filter };
  }

  insert(doc: Document): void {
    const id = canonicalKey(doc._id);
    if (this.docs.has(id)) throw this.indexes.get('_id_')!.duplicateError(this.ns, [doc._id]);
    const keys = this.keysChecked(doc, id);
    const slot = this.docs.set(id, doc);
    for (const [index, indexKeys] of keys) index.add(indexKeys, id, slot);
    this.emit({ op: 'put', ns: this.ns, doc });
  }

  /** Swaps a stored document for its updated copy (same `_id`), enforcing unique indexes first. */
  replace(previous: Document, next: Document): void {
    const id = canonicalKey(previous._id);
    // Indexes whose fields the update left alone keep their entries as they are.
    const keys = this.keysChecked(next, id, (index) => !index.sameFieldsIn(previous, next));
    // The slot keeps its identity, so entries whose keys did not change need no work.
    const slot = this.docs.set(id, next);
    for (const [index, nextKeys] of keys) {
      // Most updates leave most indexed fields alone: their entries stay where they are.
      const previousKeys = index.keysFor(previous);
      if (index.sameKeys(previousKeys, nextKeys)) continue;
      index.remove(previousKeys, id);
      index.add(nextKeys, id, slot);
    }
    this.emit({ op: 'put', ns: this.ns, doc: next });
  }

  remove(doc: Document): void {
    const id = canonicalKey(doc._id);
    if (!this.docs.delete(id)) return;
    for (const index of this.indexes.values()) index.remove(index.keysFor(doc), id);
    this.emit({ op: 'del', ns: this.ns, id: doc._id });
  }

  /** Replay path: insert or overwrite by `_id` without unique checks (the journal only holds accepted writes). */
  put(doc: Document): void {
    const existing = this.get(doc._id);
    if (existing) this.replace(existing, doc);
    else this.insert(doc);
  }

  addIndex(spec: IndexSpec): void {
    const index = new Index(spec);
    for (const [id, slot] of this.docs) {
      const keys = index.keysFor(slot.doc);
      index.assertUnique(this.ns, keys, id);
      index.add(keys, id, slot);
    }
    this.indexes.set(spec.name, index);
    this.emit({ op: 'createIndex', ns: this.ns, spec });
  }

  dropIndex(name: string): void {
    this.indexes.delete(name);
    this.emit({ op: 'dropIndex', ns: this.ns, name });
  }

  private keysChecked(doc: Document, id: string, affected?: (index: Index) => boolean): Array<[Index, unknown[][]]> {
    const result: Array<[Index, unknown[][]]> = [];
    for (const index of this.indexes.values()) {
      if (affected && !affected(index)) continue;
      const keys = index.keysFor(doc);
      index.assertUnique(this.ns, keys, id);
      result.push([index, keys]);
    }
    return result;
  }
}

/** Databases and their collections. Every mutation is reported to the change listener (the journal). */
export class Catalog {
  private readonly databases = new Map<string, Map<string, Collection>>();
  private listener: ChangeListener = () => undefined;

  setListener(listener: ChangeListener): void {
    this.listener = listener;
  }

  private readonly emit: ChangeListener = (record) => this.listener(record);

  databaseNames(): string[] {
    return [...this.databases.entries()].filter(([, colls]) => colls.size > 0).map(([name]) => name);
  }

  collections(db: string): Collection[] {
    return [...(this.databases.get(db)?.values() ?? [])];
  }

  get(db: string, name: string): Collection | undefined {
    return this.databases.get(db)?.get(name);
  }

  /** Returns the collection, creating it implicitly like MongoDB does on first write. */
  ensure(db: string, name: string): Collection {
    return this.get(db, name) ?? this.create(db, name, {});
  }

  create(db: string, name: string, options: Document): Collection {
    if (!name || name.includes('$') || name.startsWith('system.')) {
      throw new CommandError('InvalidNamespace', `Invalid collection name: ${name}`);
    }
    let collections = this.databases.get(db);
    if (!collections) {
      collections = new Map();
      this.databases.set(db, collections);
    }
    if (collections.has(name)) throw new CommandError('NamespaceExists', `Collection ${db}.${name} already exists.`);
    const collection = new Collection(db, name, options, this.emit);
    collections.set(name, collection);
    this.emit({ op: 'createCollection', ns: `${db}.${name}`, options });
    return collection;
  }

  drop(db: string, name: string): boolean {
    const dropped = this.databases.get(db)?.delete(name) ?? false;
    if (dropped) this.emit({ op: 'dropCollection', ns: `${db}.${name}` });
    return dropped;
  }

  dropDatabase(db: string): void {
    if (this.databases.delete(db)) this.emit({ op: 'dropDatabase', db });
  }

  rename(db: string, from: string, to: string, dropTarget: boolean): void {
    const source = this.get(db, from);
    if (!source) throw new CommandError('NamespaceNotFound', 'source namespace does not exist');
    if (this.get(db, to)) {
      if (!dropTarget) throw new CommandError('NamespaceExists', 'target namespace exists');
      this.drop(db, to);
    }
    const target = this.create(db, to, source.options);
    for (const index of source.indexes.values()) {
      if (index.name !== '_id_') target.addIndex(index.spec);
    }
    for (const doc of source.docs.values()) target.insert(doc);
    this.drop(db, from);
  }

  /** Applies a journal or snapshot record during recovery. */
  apply(record: ChangeRecord): void {
    switch (record.op) {
      case 'put': {
        const [db, name] = splitNs(record.ns);
        this.ensure(db, name).put(record.doc);
        return;
      }
      case 'del': {
        const [db, name] = splitNs(record.ns);
        const collection = this.get(db, name);
        const doc = collection?.get(record.id);
        if (collection && doc) collection.remove(doc);
        return;
      }
      case 'createCollection': {
        const [db, name] = splitNs(record.ns);
        if (!this.get(db, name)) this.create(db, name, record.options);
        return;
      }
      case 'dropCollection': {
        const [db, name] = splitNs(record.ns);
        this.drop(db, name);
        return;
      }
      case 'createIndex': {
        const [db, name] = splitNs(record.ns);
        const collection = this.ensure(db, name);
        if (!collection.indexes.has(record.spec.name)) collection.addIndex(record.spec);
        return;
      }
      case 'dropIndex': {
        const [db, name] = splitNs(record.ns);
        this.get(db, name)?.dropIndex(record.name);
        return;
      }
      case 'dropDatabase':
        this.dropDatabase(record.db);
        return;
    }
  }
}

export function splitNs(ns: string): [string, string] {
  const dot = ns.indexOf('.');
  return [ns.slice(0, dot), ns.slice(dot + 1)];
}
