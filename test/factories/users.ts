import { randomBytes } from 'node:crypto';
import request from 'supertest';

export const BOOTSTRAP_ADMIN = { email: 'admin@siteline.test', password: 'bootstrap-admin-password' };

/** Environment that makes the app create the first admin at boot. */
export const bootstrapAdminEnv = { ADMIN_EMAIL: BOOTSTRAP_ADMIN.email, ADMIN_PASSWORD: BOOTSTRAP_ADMIN.password };

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
}

export async function login(url: string, email: string, password: string): Promise<Tokens> {
  const response = await request(url).post('/api/v1/auth/login').send({ email, password }).expect(200);
  return response.body as Tokens;
}

export function loginAsBootstrapAdmin(url: string): Promise<Tokens> {
  return login(url, BOOTSTRAP_ADMIN.email, BOOTSTRAP_ADMIN.password);
}

export interface UserSpec {
  email?: string;
  password?: string;
  role?: 'admin' | 'viewer';
  siteIds?: string[];
}

export interface CreatedUser {
  id: string;
  email: string;
  password: string;
  role: 'admin' | 'viewer';
  siteIds: string[];
}

/** Creates an account through the API as `adminToken`. */
export async function createUser(url: string, adminToken: string, spec: UserSpec = {}): Promise<CreatedUser> {
  const body = {
    email: spec.email ?? `user-${randomBytes(4).toString('hex')}@siteline.test`,
    password: spec.password ?? `pw-${randomBytes(8).toString('hex')}`,
    role: spec.role ?? 'viewer',
    siteIds: spec.siteIds ?? [],
  };
  const response = await request(url).post('/api/v1/users').auth(adminToken, { type: 'bearer' }).send(body).expect(201);
  return { ...body, id: (response.body as { id: string }).id };
}
