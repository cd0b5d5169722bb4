import { randomBytes } from 'node:crypto';
import request from 'supertest';

export interface CreatedSite {
  id: string;
  domain: string;
  name: string;
  timezone: string;
  allowedOrigins: string[];
  respectDoNotTrack: boolean;
}

export interface IssuedKey {
  id: string;
  key: string;
  scopes: string[];
  prefix: string;
}

/** Creates a site through the API as `adminToken`, with a unique domain unless one is given. */
export async function createSite(
  url: string,
  adminToken: string,
  fields: Partial<Omit<CreatedSite, 'id'>> = {},
): Promise<CreatedSite> {
  const domain = fields.domain ?? `site-${randomBytes(4).toString('hex')}.example`;
  const response = await request(url)
    .post('/api/v1/sites')
    .auth(adminToken, { type: 'bearer' })
    .send({ name: `Site ${domain}`, ...fields, domain })
    .expect(201);
  return response.body as CreatedSite;
}

export async function createKey(
  url: string,
  adminToken: string,
  siteId: string,
  scopes?: string[],
): Promise<IssuedKey> {
  const response = await request(url)
    .post(`/api/v1/sites/${siteId}/keys`)
    .auth(adminToken, { type: 'bearer' })
    .send(scopes ? { scopes } : {})
    .expect(201);
  return response.body as IssuedKey;
}
