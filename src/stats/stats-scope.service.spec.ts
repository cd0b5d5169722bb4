import { describe, expect, it } from '@jest/globals';
import { HttpException } from '@nestjs/common';
import { Types } from 'mongoose';
import type { SiteAccessService } from '../auth/site-access.service.js';
import type { Principal } from '../auth/principal.js';
import { FixedClock } from '../common/time/clock.js';
import type { TrackingConfig } from '../config/configuration.js';
import type { SegmentsService } from '../segments/segments.service.js';
import { VisitsPendingError, type SessionsService } from '../sessions/sessions.service.js';
import type { SiteView } from '../sites/site-view.js';
import { READ_BACKLOG_LIMIT, READ_FLUSH_TIMEOUT_MS, StatsScopeService } from './stats-scope.service.js';

const site = { id: new Types.ObjectId().toHexString(), timezone: 'UTC' } as SiteView;
const access = { resolveReadableSite: () => Promise.resolve(site) } as unknown as SiteAccessService;
const principal = {} as Principal;

function scopeWith(flush: SessionsService['flush']): StatsScopeService {
  return new StatsScopeService(
    access,
    { flush } as SessionsService,
    new FixedClock(new Date('2024-01-01T00:00:00Z')),
    {} as SegmentsService,
    {} as TrackingConfig,
  );
}

describe('StatsScopeService.open', () => {
  it('waits for the site visits with the read timeout and backlog limit, then opens the scope', async () => {
    const calls: unknown[][] = [];
    const scope = await scopeWith((...args) => {
      calls.push(args);
      return Promise.resolve();
    }).open(principal, site.id);
    expect(calls).toEqual([[site.id, 1, READ_FLUSH_TIMEOUT_MS, READ_BACKLOG_LIMIT]]);
    expect(scope.siteId.toHexString()).toBe(site.id);
  });

  it('answers 503 with Retry-After when visits are still being computed, instead of numbers missing them', async () => {
    const opening = scopeWith(() => Promise.reject(new VisitsPendingError(1234))).open(principal, site.id);
    const error = await opening.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HttpException);
    expect((error as HttpException).getStatus()).toBe(503);
    expect((error as HttpException).getResponse()).toMatchObject({
      message: expect.stringContaining('1234 visitors'),
      headers: { 'Retry-After': '5' },
    });
    const pastLimit = await scopeWith(() => Promise.reject(new VisitsPendingError(READ_BACKLOG_LIMIT, true)))
      .open(principal, site.id)
      .catch((caught: unknown) => caught);
    expect((pastLimit as HttpException).getResponse()).toMatchObject({
      message: expect.stringContaining(`more than ${READ_BACKLOG_LIMIT} visitors`),
    });
  });

  it('lets any other failure through unchanged', async () => {
    const failure = new Error('database exploded');
    await expect(scopeWith(() => Promise.reject(failure)).open(principal, site.id)).rejects.toBe(failure);
  });
});
