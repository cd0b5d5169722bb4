import { ConflictException, ForbiddenException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthService, type TokenPair } from './auth.service.js';
import { LoginThrottleService } from './login-throttle.service.js';
import { UsersService } from './users.service.js';

/** Crockford's base32: no I, L, O or U, so a code read off a terminal is not mistyped. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 12 symbols of 5 bits: 60 bits, far beyond what the login rate limit lets anyone guess. */
const CODE_LENGTH = 12;

const ALREADY_SET_UP = 'Siteline already has an account; sign in instead';

/** Upper-cased, without the dashes and spaces a person may type or copy along. */
function normalizeCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '');
}

const digest = (code: string): Buffer => createHash('sha256').update(normalizeCode(code)).digest();

/**
 * The first-run setup: while no account exists, the dashboard offers to create the first admin to
 * whoever presents the one-time setup code this process printed in its log at boot (as Grafana
 * and Jupyter do), i.e. to the person running the server, not to whoever finds the page first.
 *
 * Only a SHA-256 of the code is kept, in memory: a restart issues a new code, and each instance
 * sharing a database has its own. It stops working once any account exists. Wrong codes count
 * as failed logins (per client IP and per email entered), so guessing is rate-limited like login.
 */
@Injectable()
export class FirstRunService {
  private readonly logger = new Logger(FirstRunService.name);
  private codeHash: Buffer | undefined;

  constructor(
    private readonly users: UsersService,
    private readonly auth: AuthService,
    private readonly throttle: LoginThrottleService,
  ) {}

  async isSetupNeeded(): Promise<boolean> {
    return !(await this.users.anyExists());
  }

  /**
   * A fresh setup code when no account exists yet, for the boot line to print; undefined when
   * there is an account. Replaces any code issued before.
   */
  async issueSetupCode(): Promise<string | undefined> {
    if (!(await this.isSetupNeeded())) return undefined;
    const symbols = [...randomBytes(CODE_LENGTH)].map((byte) => CODE_ALPHABET[byte % CODE_ALPHABET.length]);
    const code = symbols.join('').replace(/(.{4})(?=.)/g, '$1-');
    this.codeHash = digest(code);
    return code;
  }

  /** Creates the first admin for the holder of the setup code and signs them in. */
  async setUp(setupCode: string, email: string, password: string, clientIp: string): Promise<TokenPair> {
    if (!(await this.isSetupNeeded())) throw new ConflictException(ALREADY_SET_UP);
    const expected = this.codeHash;
    if (!expected) {
      throw new ForbiddenException(
        'This server issued no setup code (an account existed when it started); restart it to get one',
      );
    }
    const attempt = await this.throttle.reserve(clientIp, email);
    // Both digests are 32 bytes whatever was typed, so the comparison time says nothing about the code.
    if (!timingSafeEqual(digest(setupCode), expected)) {
      await this.throttle.recordFailure(attempt);
      throw new UnauthorizedException('Wrong setup code: enter the code printed in the server log at startup');
    }
    let user;
    try {
      user = await this.users.createFirstAdmin(email, password);
    } catch (error) {
      await this.throttle.release(attempt).catch(() => undefined);
      throw error;
    }
    await this.throttle.recordSuccess(attempt);
    this.codeHash = undefined;
    this.logger.log(`Created the first admin account ${user.email} with the setup code`);
    return this.auth.startSession(user);
  }
}
