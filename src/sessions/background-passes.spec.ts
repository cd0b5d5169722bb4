import { afterEach, describe, expect, it, jest } from '@jest/globals';
import type { HttpAdapterHost } from '@nestjs/core';
import { ShutdownDeadline } from '../common/lifecycle/shutdown-deadline.js';
import type { AppConfig, TrackingConfig } from '../config/configuration.js';
import type { HitsRepository } from '../hits/hits.repository.js';
import { BACKGROUND_PASS_GAP_MS, SessionsService } from './sessions.service.js';
import type { VisitChangesRepository } from './visit-changes.repository.js';
import type { VisitorDirtyRepository } from './visitor-dirty.repository.js';
import type { VisitsRepository } from './visits.repository.js';

/** A sessionizer whose work list is always empty; `passes()` counts the background passes that ran. */
function sessionizer(): { sessions: SessionsService; passes: () => number } {
  let claims = 0;
  const dirty = {
    claimBatch: () => {
      claims++;
      return Promise.resolve(null);
    },
  } as unknown as VisitorDirtyRepository;
  const visits = { findVisitsWithoutAttribution: () => Promise.resolve([]) } as unknown as VisitsRepository;
  const config = { visitorSecret: 'secret', visitorIdMode: 'daily', sessionIdleMinutes: 30 } as TrackingConfig;
  const shutdown = new ShutdownDeadline({ shutdownTimeoutMs: 8000 } as AppConfig, {} as HttpAdapterHost);
  const sessions = new SessionsService(
    config,
    {} as HitsRepository,
    visits,
    dirty,
    {} as VisitChangesRepository,
    shutdown,
  );
  // Each pass asks for a batch once per concurrent worker (two), and finds none.
  return { sessions, passes: () => claims / 2 };
}

describe('background sessionizer passes', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('starts the first pass at once and one more per gap however many writes ask in between', async () => {
    jest.useFakeTimers();
    const { sessions, passes } = sessionizer();
    sessions.sessionizeInBackground();
    expect(passes()).toBe(1);
    await jest.advanceTimersByTimeAsync(10);
    for (let write = 0; write < 5; write++) {
      sessions.sessionizeInBackground();
      await jest.advanceTimersByTimeAsync(100);
    }
    expect(passes()).toBe(1);
    await jest.advanceTimersByTimeAsync(BACKGROUND_PASS_GAP_MS - 511);
    expect(passes()).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(passes()).toBe(2);
    // Nothing asked since: no pass of its own.
    await jest.advanceTimersByTimeAsync(5 * BACKGROUND_PASS_GAP_MS);
    expect(passes()).toBe(2);
    // After a quiet gap a write is sessionized at once again.
    sessions.sessionizeInBackground();
    expect(passes()).toBe(3);
    sessions.onModuleDestroy();
  });

  it('starts no pass once shutdown began, even one already waiting for its gap', async () => {
    jest.useFakeTimers();
    const { sessions, passes } = sessionizer();
    sessions.sessionizeInBackground();
    await jest.advanceTimersByTimeAsync(10);
    sessions.sessionizeInBackground();
    sessions.onModuleDestroy();
    await jest.advanceTimersByTimeAsync(2 * BACKGROUND_PASS_GAP_MS);
    expect(passes()).toBe(1);
  });
});
