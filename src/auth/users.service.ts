import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { Clock } from '../common/time/clock.js';
import { authConfig, type AuthConfig } from '../config/configuration.js';
import { SitesService } from '../sites/sites.service.js';
import { hashPassword, needsRehash } from './password-hasher.js';
import type { Role } from './principal.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';
import { UsersRepository, type StoredUser, type UserChanges } from './users.repository.js';
import { isDuplicateKeyError } from '../database/database-errors.js';

export const MIN_PASSWORD_LENGTH = 10;

export interface NewUser {
  email: string;
  password: string;
  role: Role;
  siteIds?: string[];
}

export interface UserUpdate {
  email?: string;
  password?: string;
  role?: Role;
  siteIds?: string[];
}

/** A user as the API shows it: never the password hash. */
export interface UserView {
  id: string;
  email: string;
  role: Role;
  siteIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

export function toUserView(user: StoredUser): UserView {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    siteIds: user.siteIds,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    private readonly users: UsersRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly sites: SitesService,
    private readonly clock: Clock,
    @Inject(authConfig.KEY) private readonly config: AuthConfig,
  ) {}

  /**
   * The first admin comes from ADMIN_EMAIL + ADMIN_PASSWORD when no user exists yet (otherwise
   * from the first-run setup form, see FirstRunService).
   */
  async onApplicationBootstrap(): Promise<void> {
    const { adminEmail, adminPassword } = this.config;
    if (!adminEmail || !adminPassword || (await this.anyExists())) return;
    try {
      await this.createFirstAdmin(adminEmail, adminPassword);
      this.logger.log(`Created the first admin account ${adminEmail.toLowerCase()} from ADMIN_EMAIL`);
    } catch (error) {
      // Another instance booting on the same database (or the setup form) created it first.
      if (!(error instanceof ConflictException)) throw error;
    }
  }

  async anyExists(): Promise<boolean> {
    return this.users.anyExists();
  }

  /**
   * Creates the first admin. The account carries the unique `firstAdmin` key, so of concurrent
   * first-admin creations (several instances, the setup form and ADMIN_EMAIL) exactly one
   * succeeds and the others get 409, whatever emails they use.
   */
  async createFirstAdmin(email: string, password: string): Promise<StoredUser> {
    this.checkPassword(password);
    try {
      return await this.users.create({
        email: email.trim().toLowerCase(),
        passwordHash: await hashPassword(password),
        role: 'admin',
        siteIds: [],
        firstAdmin: true,
      });
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictException('Siteline already has an account; sign in instead');
      throw error;
    }
  }

  /** Creates an account; also the entry point of the `users:create` CLI command. */
  async createUser(input: NewUser): Promise<UserView> {
    const siteIds = await this.checkedSiteIds(input.siteIds ?? []);
    this.checkPassword(input.password);
    try {
      const user = await this.users.create({
        email: input.email.trim().toLowerCase(),
        passwordHash: await hashPassword(input.password),
        role: input.role,
        siteIds,
      });
      return toUserView(user);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictException('An account with this email exists');
      throw error;
    }
  }

  async list(): Promise<UserView[]> {
    return (await this.users.listAll()).map(toUserView);
  }

  async get(id: string): Promise<UserView> {
    return toUserView(await this.getStored(id));
  }

  async findStoredById(id: string): Promise<StoredUser | null> {
    return this.users.findById(id);
  }

  async findStoredByEmail(email: string): Promise<StoredUser | null> {
    return this.users.findByEmail(email.trim());
  }

  async update(id: string, input: UserUpdate): Promise<UserView> {
    const current = await this.getStored(id);
    const changes: UserChanges = {};
    if (input.email !== undefined) changes.email = input.email.trim().toLowerCase();
    if (input.siteIds !== undefined) changes.siteIds = await this.checkedSiteIds(input.siteIds);
    if (input.password !== undefined) {
      this.checkPassword(input.password);
      changes.passwordHash = await hashPassword(input.password);
    }
    const newRole = input.role !== undefined && input.role !== current.role ? input.role : undefined;
    // Taking the admin role away is written on its own, first (see demoteUnlessLastAdmin);
    // any other role change is written with the rest.
    const demoting = newRole !== undefined && current.role === 'admin';
    if (demoting) await this.demoteUnlessLastAdmin(id, newRole);
    else if (newRole !== undefined) changes.role = newRole;
    try {
      const updated =
        Object.keys(changes).length > 0 ? await this.users.update(id, changes) : await this.users.findById(id);
      if (!updated) throw new NotFoundException('User not found');
      if (changes.passwordHash) await this.refreshTokens.revokeAllForUser(id, this.clock.now());
      return toUserView(updated);
    } catch (error) {
      // The request failed as a whole: the demotion it made goes too.
      if (demoting) await this.users.update(id, { role: 'admin' });
      if (isDuplicateKeyError(error)) throw new ConflictException('An account with this email exists');
      throw error;
    }
  }

  async delete(id: string): Promise<void> {
    const user = await this.getStored(id);
    if (user.role === 'admin') await this.demoteUnlessLastAdmin(id, 'viewer');
    await this.users.delete(id);
    await this.refreshTokens.deleteAllForUser(id);
  }

  /** Re-hashes a password made with older, weaker parameters once the user proves they know it. */
  async upgradePasswordHashIfNeeded(user: StoredUser, password: string): Promise<void> {
    if (!needsRehash(user.passwordHash)) return;
    await this.users.replacePasswordHash(user.id, await hashPassword(password));
  }

  private async getStored(id: string): Promise<StoredUser> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundException('User not found');
    return user;
  }

  /**
   * Takes the admin role from `id` (before a demotion or a deletion) unless that leaves no admin.
   * The demotion is written first and the admins counted after it, so two admins demoting each
   * other at once cannot both pass a count taken before either write: whichever counts zero puts
   * its admin back and answers 409 (both may, and then both stay admins). No transaction needed,
   * which the embedded store and a standalone MongoDB do not offer.
   */
  private async demoteUnlessLastAdmin(id: string, role: Role): Promise<void> {
    const refuse = (): ConflictException => new ConflictException('Cannot remove or demote the last admin');
    if ((await this.users.countAdmins()) <= 1) throw refuse();
    await this.users.update(id, { role });
    if ((await this.users.countAdmins()) === 0) {
      await this.users.update(id, { role: 'admin' });
      throw refuse();
    }
  }

  private checkPassword(password: string): void {
    if (password.length < MIN_PASSWORD_LENGTH)
      throw new BadRequestException(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }

  private async checkedSiteIds(siteIds: string[]): Promise<string[]> {
    const unique = [...new Set(siteIds)];
    const found = new Set((await this.sites.listByIds(unique)).map((site) => site.id));
    const unknown = unique.filter((id) => !found.has(id));
    if (unknown.length > 0) throw new BadRequestException(`siteIds: unknown site ${unknown.join(', ')}`);
    return unique;
  }
}
