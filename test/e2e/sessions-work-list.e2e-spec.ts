import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Types } from 'mongoose';
import { SessionsService, VisitsPendingError } from '../../src/sessions/sessions.service.js';
import { VisitorDirtyRepository } from '../../src/sessions/visitor-dirty.repository.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const LEASE_MS = 30_000;
const at = (time: string) => new Date(`2024-05-01T${time}:00Z`);

/**
 * The sessionizer's work list (`visitor_dirty`) on the store: claims take batches, a claim moves
 * the window aside so later marks start a window of their own, and no window is ever lost when a
 * run fails or a holder dies.
 */
describe('sessionizer work list', () => {
  let app: TestApp;
  let dirty: VisitorDirtyRepository;

  beforeAll(async () => {
    app = await startTestApp();
    // The app's own background passes would claim the items this test claims by hand.
    app.app.get(SessionsService).deferBackgroundSessionizing();
    dirty = app.app.get(VisitorDirtyRepository);
  });

  afterAll(async () => {
    await app.close();
  });

  const newVisitor = () => ({ siteId: new Types.ObjectId(), visitorKey: new Types.ObjectId().toHexString() });
  const windowOf = (batch: Awaited<ReturnType<VisitorDirtyRepository['claimBatch']>>) =>
    batch?.visitors.map((visitor) => [visitor.from.toISOString(), visitor.to.toISOString()]);

  it('claims many visitors in one batch, each with the window its marks covered, and only free ones', async () => {
    const visitors = Array.from({ length: 5 }, newVisitor);
    await dirty.mark(visitors.map((visitor) => ({ ...visitor, from: at('10:00'), to: at('10:05') })));
    await dirty.mark([{ ...visitors[0], from: at('09:50'), to: at('10:01') }]);
    const ids = visitors.map((visitor) => `${visitor.siteId.toHexString()}:${visitor.visitorKey}`);

    const first = await dirty.claimBatch(new Date(), LEASE_MS, 3, ids);
    expect(first?.visitors).toHaveLength(3);
    const second = await dirty.claimBatch(new Date(), LEASE_MS, 10, ids);
    expect(second?.visitors).toHaveLength(2);
    expect(await dirty.claimBatch(new Date(), LEASE_MS, 10, ids)).toBeNull();

    const claimed = [...first!.visitors, ...second!.visitors];
    const widened = claimed.find((visitor) => visitor.visitorKey === visitors[0].visitorKey);
    expect([widened?.from, widened?.to]).toEqual([at('09:50'), at('10:05')]);
    await dirty.complete(first!);
    await dirty.complete(second!);
    expect(await dirty.stillBehind(new Map(ids.map((id) => [id, 2])))).toEqual([]);
  });

  it('gives marks that arrive during a run a window of their own, so a busy visitor is not recomputed from its first hit', async () => {
    const visitor = newVisitor();
    const id = `${visitor.siteId.toHexString()}:${visitor.visitorKey}`;
    await dirty.mark([{ ...visitor, from: at('10:00'), to: at('10:05') }]);
    const running = await dirty.claimBatch(new Date(), LEASE_MS, 1, [id]);
    await dirty.mark([{ ...visitor, from: at('11:00'), to: at('11:02') }]);
    await dirty.complete(running!);

    expect(await dirty.stillBehind(new Map([[id, 1]]))).toEqual([]);
    expect(await dirty.stillBehind(new Map([[id, 2]]))).toEqual([id]);
    const next = await dirty.claimBatch(new Date(), LEASE_MS, 1, [id]);
    expect(windowOf(next)).toEqual([[at('11:00').toISOString(), at('11:02').toISOString()]]);
  });

  it('gives a failed run its window back, merged with marks that arrived meanwhile', async () => {
    const visitor = newVisitor();
    const id = `${visitor.siteId.toHexString()}:${visitor.visitorKey}`;
    await dirty.mark([{ ...visitor, from: at('10:00'), to: at('10:05') }]);
    const failed = await dirty.claimBatch(new Date(), LEASE_MS, 1, [id]);
    await dirty.mark([{ ...visitor, from: at('12:00'), to: at('12:00') }]);
    await dirty.release(failed!.claimToken);

    const retry = await dirty.claimBatch(new Date(), LEASE_MS, 1, [id]);
    expect(windowOf(retry)).toEqual([[at('10:00').toISOString(), at('12:00').toISOString()]]);
  });

  it('lets another instance take over an expired lease with the dead holder window included', async () => {
    const visitor = newVisitor();
    const id = `${visitor.siteId.toHexString()}:${visitor.visitorKey}`;
    const start = Date.now();
    await dirty.mark([{ ...visitor, from: at('10:00'), to: at('10:05') }]);
    const dead = await dirty.claimBatch(new Date(start), 1_000, 1, [id]);
    await dirty.mark([{ ...visitor, from: at('10:30'), to: at('10:31') }]);
    expect(await dirty.claimBatch(new Date(start + 500), LEASE_MS, 1, [id])).toBeNull();

    const takeover = await dirty.claimBatch(new Date(start + 2_000), LEASE_MS, 1, [id]);
    expect(windowOf(takeover)).toEqual([[at('10:00').toISOString(), at('10:31').toISOString()]]);
    // The old holder finishing late changes nothing: the item belongs to the new holder.
    await dirty.complete(dead!);
    expect(await dirty.stillBehind(new Map([[id, 2]]))).toEqual([id]);
    await dirty.complete(takeover!);
    expect(await dirty.stillBehind(new Map([[id, 2]]))).toEqual([]);
  });

  it('flush gives up with VisitsPendingError when another holder keeps a visitor past the timeout', async () => {
    const visitor = newVisitor();
    const id = `${visitor.siteId.toHexString()}:${visitor.visitorKey}`;
    await dirty.mark([{ ...visitor, from: at('10:00'), to: at('10:00') }]);
    const held = await dirty.claimBatch(new Date(), LEASE_MS, 1, [id]);
    const flushing = app.app.get(SessionsService).flush(visitor.siteId.toHexString(), 1, 300);
    await expect(flushing).rejects.toBeInstanceOf(VisitsPendingError);
    await expect(flushing).rejects.toMatchObject({ pendingVisitors: 1 });
    await dirty.complete(held!);
  });

  it('flush answers at once, claiming nothing, when the backlog is past its limit', async () => {
    const siteId = new Types.ObjectId();
    const visitors = Array.from({ length: 3 }, () => ({ ...newVisitor(), siteId }));
    await dirty.mark(visitors.map((visitor) => ({ ...visitor, from: at('10:00'), to: at('10:00') })));
    const sessions = app.app.get(SessionsService);
    const flushing = sessions.flush(siteId.toHexString(), 1, 60_000, 2);
    await expect(flushing).rejects.toMatchObject({ pendingVisitors: 2, atLeast: true });
    await expect(flushing).rejects.toThrow('Visits of more than 2 visitors are still being computed');
    // Nothing was claimed or computed: all three still wait for the sessionizer.
    expect((await dirty.snapshot(siteId)).size).toBe(3);
    expect(await dirty.claimBatch(new Date(), LEASE_MS, 3, [...(await dirty.snapshot(siteId)).keys()])).toMatchObject({
      visitors: expect.arrayContaining([expect.anything(), expect.anything(), expect.anything()]),
    });
    // At the limit it works the backlog off.
    const other = new Types.ObjectId();
    await dirty.mark([0, 1].map(() => ({ ...newVisitor(), siteId: other, from: at('10:00'), to: at('10:00') })));
    await sessions.flush(other.toHexString(), 1, 60_000, 2);
    expect((await dirty.snapshot(other)).size).toBe(0);
  });

  it('checks a snapshot of 300,000 visitors (a bulk load) without exceeding the 16 MB command size', async () => {
    const visitor = newVisitor();
    const id = `${visitor.siteId.toHexString()}:${visitor.visitorKey}`;
    await dirty.mark([{ ...visitor, from: at('10:00'), to: at('10:00') }]);
    const snapshot = new Map<string, number>([[id, 1]]);
    for (let i = 0; snapshot.size < 300_000; i++)
      snapshot.set(`${visitor.siteId.toHexString()}:${i.toString(16).padStart(32, '0')}`, 1);
    expect(await dirty.stillBehind(snapshot)).toEqual([id]);
  });
});
