import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { Clock } from '../common/time/clock.js';
import { authConfig, type AuthConfig } from '../config/configuration.js';
import { LoginFailuresRepository } from './login-failures.repository.js';

interface Window {
  ipBucket: string;
  accountBucket: string;
  endsAt: Date;
}

/**
 * Limits failed logins per client IP and per account in fixed windows (defaults: 30 per IP and
 * 10 per account per 15 minutes). Counts live in MongoDB, so the limit holds across app
 * instances. A fixed window lets a patient attacker make up to twice the limit around a window
 * boundary; that is still orders of magnitude below what guessing a 10-character password needs.
 * A successful login clears the account's count, not the IP's.
 */
@Injectable()
export class LoginThrottleService {
  constructor(
    private readonly failures: LoginFailuresRepository,
    private readonly clock: Clock,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  /** Throws 429 with Retry-After when either limit is already used up. */
  async assertAllowed(ip: string, email: string): Promise<void> {
    const window = this.windowFor(ip, email);
    const [byIp, byAccount] = await Promise.all([
      this.failures.countFor(window.ipBucket),
      this.failures.countFor(window.accountBucket),
    ]);
    if (byIp < this.config.loginMaxFailuresPerIp && byAccount < this.config.loginMaxFailuresPerAccount) return;
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

  async recordFailure(ip: string, email: string): Promise<void> {
    const window = this.windowFor(ip, email);
    await Promise.all([
      this.failures.increment(window.ipBucket, window.endsAt),
      this.failures.increment(window.accountBucket, window.endsAt),
    ]);
  }

  async recordSuccess(ip: string, email: string): Promise<void> {
    await this.failures.clear(this.windowFor(ip, email).accountBucket);
  }

  private windowFor(ip: string, email: string): Window {
    const length = this.config.loginThrottleWindowSeconds * 1000;
    const start = Math.floor(this.clock.now().getTime() / length) * length;
    return {
      ipBucket: `ip:${this.pseudonym(ip)}:${start}`,
      accountBucket: `account:${this.pseudonym(email.trim().toLowerCase())}:${start}`,
      endsAt: new Date(start + length),
    };
  }

  /** Keyed hash, so the stored counters reveal neither client IPs nor email addresses. */
  private pseudonym(value: string): string {
    return createHmac('sha256', this.config.jwtSecret).update(value).digest('base64url').slice(0, 32);
  }
}
