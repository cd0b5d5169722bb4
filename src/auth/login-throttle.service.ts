import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { Clock } from '../common/time/clock.js';
import { authConfig, type AuthConfig } from '../config/configuration.js';
import { LoginFailuresRepository } from './login-failures.repository.js';

export interface ThrottleWindow {
  start: number;
  ipBucket: string;
  accountBucket: string;
  endsAt: Date;
}

/** An admitted login attempt; end it with exactly one of `recordFailure`, `recordSuccess`, `release`. */
export interface LoginAttempt {
  readonly ipSubject: string;
  readonly accountSubject: string;
  /** The window the attempt was reserved in. */
  readonly window: ThrottleWindow;
}

/**
 * Limits failed logins per client IP and per account in fixed windows (defaults: 30 per IP and
 * 10 per account per 15 minutes). Counts live in MongoDB, so the limit holds across app
 * instances. A fixed window lets a patient attacker make up to twice the limit around a window
 * boundary; that is still orders of magnitude below what guessing a 10-character password needs.
 * A successful login clears the account's count, not the IP's.
 *
 * Each attempt is reserved (counted as undecided) atomically before its password is checked, so
 * parallel attempts cannot all pass the limit: of N parallel wrong guesses at most the limit get
 * their password tried. Refused attempts are not counted; a reservation that turns out a failure
 * becomes one, any other is dropped. A reservation left behind by a crashed process counts until
 * its window ends.
 */
@Injectable()
export class LoginThrottleService {
  constructor(
    private readonly failures: LoginFailuresRepository,
    private readonly clock: Clock,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  /** Reserves an attempt, or throws 429 with Retry-After when either limit is used up. */
  async reserve(ip: string, email: string): Promise<LoginAttempt> {
    const ipSubject = this.pseudonym(ip);
    const accountSubject = this.pseudonym(email.trim().toLowerCase());
    const window = this.windowFor(ipSubject, accountSubject);
    // The IP first: attempts it refuses never touch the account's count, not even briefly.
    if ((await this.failures.reserve(window.ipBucket, window.endsAt)) <= this.config.loginMaxFailuresPerIp) {
      const byAccount = await this.failures.reserve(window.accountBucket, window.endsAt);
      if (byAccount <= this.config.loginMaxFailuresPerAccount) return { ipSubject, accountSubject, window };
      await this.failures.release(window.accountBucket);
    }
    await this.failures.release(window.ipBucket);
    const retryAfter = Math.max(1, Math.ceil((window.endsAt.getTime() - this.clock.now().getTime()) / 1000));
    throw new HttpException(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        message: 'Too many failed logins; try again later',
        headers: { 'Retry-After': String(retryAfter) },
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }

  /** Counts the attempt as a failure, in the window current now (as when failures were counted after the check). */
  async recordFailure(attempt: LoginAttempt): Promise<void> {
    const reserved = attempt.window;
    const now = this.windowFor(attempt.ipSubject, attempt.accountSubject);
    if (now.start === reserved.start) {
      await Promise.all([
        this.failures.recordFailure(reserved.ipBucket),
        this.failures.recordFailure(reserved.accountBucket),
      ]);
      return;
    }
    await Promise.all([
      this.release(attempt),
      this.failures.increment(now.ipBucket, now.endsAt),
      this.failures.increment(now.accountBucket, now.endsAt),
    ]);
  }

  /** Drops the attempt's reservations and clears the account's count in the window current now. */
  async recordSuccess(attempt: LoginAttempt): Promise<void> {
    const reserved = attempt.window;
    const now = this.windowFor(attempt.ipSubject, attempt.accountSubject);
    if (now.start === reserved.start) {
      await Promise.all([
        this.failures.release(reserved.ipBucket),
        this.failures.releaseAndClear(reserved.accountBucket),
      ]);
      return;
    }
    await Promise.all([this.release(attempt), this.failures.clear(now.accountBucket)]);
  }

  /** Drops the attempt's reservations without counting it (e.g. the check itself failed). */
  async release(attempt: LoginAttempt): Promise<void> {
    await Promise.all([
      this.failures.release(attempt.window.ipBucket),
      this.failures.release(attempt.window.accountBucket),
    ]);
  }

  private windowFor(ipSubject: string, accountSubject: string): ThrottleWindow {
    const length = this.config.loginThrottleWindowSeconds * 1000;
    const start = Math.floor(this.clock.now().getTime() / length) * length;
    return {
      start,
      ipBucket: `ip:${ipSubject}:${start}`,
      accountBucket: `account:${accountSubject}:${start}`,
      endsAt: new Date(start + length),
    };
  }

  /** Keyed hash, so the stored counters reveal neither client IPs nor email addresses. */
  private pseudonym(value: string): string {
    return createHmac('sha256', this.config.jwtSecret).update(value).digest('base64url').slice(0, 32);
  }
}
