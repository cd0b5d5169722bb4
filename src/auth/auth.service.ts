import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Clock } from '../common/time/clock.js';
import { authConfig, type AuthConfig } from '../config/configuration.js';
import type { AccessTokenClaims } from './jwt.strategy.js';
import { LoginThrottleService } from './login-throttle.service.js';
import { decoyPasswordHash, verifyPassword } from './password-hasher.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';
import type { StoredUser } from './users.repository.js';
import { UsersService } from './users.service.js';

export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
}

const INVALID_LOGIN = 'Invalid email or password';
const INVALID_REFRESH = 'Invalid or expired refresh token';

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly throttle: LoginThrottleService,
    private readonly jwt: JwtService,
    private readonly clock: Clock,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  /** Unknown email and wrong password take the same time and get the same answer. */
  async login(email: string, password: string, clientIp: string): Promise<TokenPair> {
    // Reserved before the password is checked, so parallel guesses cannot all slip under the limit.
    const attempt = await this.throttle.reserve(clientIp, email);
    let user: StoredUser | null;
    let valid: boolean;
    try {
      user = await this.users.findStoredByEmail(email);
      valid = await verifyPassword(password, user?.passwordHash ?? (await decoyPasswordHash()));
    } catch (error) {
      // Not a failed login; if even the release fails, the reservation counts until the window ends.
      await this.throttle.release(attempt).catch(() => undefined);
      throw error;
    }
    if (!user || !valid) {
      await this.throttle.recordFailure(attempt);
      throw new UnauthorizedException(INVALID_LOGIN);
    }
    await this.throttle.recordSuccess(attempt);
    await this.users.upgradePasswordHashIfNeeded(user, password);
    return this.startSession(user);
  }

  /** Signs a user in without a password check: the caller has authenticated them otherwise (first-run setup). */
  startSession(user: StoredUser): Promise<TokenPair> {
    return this.issueTokens(user, randomUUID());
  }

  /**
   * Rotates a refresh token. Presenting one that was already rotated or revoked means it leaked
   * (or the client replayed it): the whole family — every token descended from that login — is
   * revoked, so whoever holds the newest one must sign in again too.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const tokenHash = hashToken(refreshToken);
    const stored = await this.refreshTokens.findByHash(tokenHash);
    const now = this.clock.now();
    if (!stored || stored.revokedAt || stored.expiresAt <= now) throw new UnauthorizedException(INVALID_REFRESH);
    if (stored.rotatedAt || !(await this.refreshTokens.markRotated(tokenHash, now))) {
      await this.refreshTokens.revokeFamily(stored.familyId, now);
      throw new UnauthorizedException(INVALID_REFRESH);
    }
    const user = await this.users.findStoredById(stored.userId);
    if (!user) throw new UnauthorizedException(INVALID_REFRESH);
    return this.issueTokens(user, stored.familyId);
  }

  /** Ends the login session the token belongs to; unknown tokens are ignored (logout is idempotent). */
  async logout(refreshToken: string): Promise<void> {
    const stored = await this.refreshTokens.findByHash(hashToken(refreshToken));
    if (stored) await this.refreshTokens.revokeFamily(stored.familyId, this.clock.now());
  }

  private async issueTokens(user: StoredUser, familyId: string): Promise<TokenPair> {
    const issuedAt = Math.floor(this.clock.now().getTime() / 1000);
    const claims: AccessTokenClaims = {
      sub: user.id,
      ver: user.tokenVersion,
      iat: issuedAt,
      exp: issuedAt + this.config.accessTtlSeconds,
    };
    const accessToken = await this.jwt.signAsync(claims);
    const refreshToken = randomBytes(32).toString('base64url');
    await this.refreshTokens.create({
      tokenHash: hashToken(refreshToken),
      familyId,
      userId: user.id,
      expiresAt: new Date((issuedAt + this.config.refreshTtlSeconds) * 1000),
    });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.config.accessTtlSeconds, refreshToken };
  }
}
