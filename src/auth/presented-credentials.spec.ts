import { describe, expect, it } from '@jest/globals';
import { extractBearerJwt, extractPresentedKey } from './presented-credentials.js';

const key = 'sk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd';
const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';

describe('extractPresentedKey', () => {
  it('reads a raw Authorization header as site-analytics scripts send it', () => {
    expect(extractPresentedKey({ authorization: key })).toBe(key);
  });

  it('reads Authorization: Bearer <key> and X-Api-Key', () => {
    expect(extractPresentedKey({ authorization: `Bearer ${key}` })).toBe(key);
    expect(extractPresentedKey({ authorization: `bearer   ${key} ` })).toBe(key);
    expect(extractPresentedKey({ 'x-api-key': ` ${key} ` })).toBe(key);
  });

  it('prefers X-Api-Key over Authorization', () => {
    expect(extractPresentedKey({ 'x-api-key': key, authorization: 'sk_other' })).toBe(key);
  });

  it('leaves a Bearer JWT alone and finds nothing without headers', () => {
    expect(extractPresentedKey({ authorization: `Bearer ${jwt}` })).toBeUndefined();
    expect(extractPresentedKey({})).toBeUndefined();
    expect(extractPresentedKey({ authorization: '  ' })).toBeUndefined();
    expect(extractPresentedKey({ authorization: 'Basic dXNlcjpwYXNz' })).toBeUndefined();
  });

  it('takes an unprefixed raw value as a (wrong) key so it fails authentication', () => {
    expect(extractPresentedKey({ authorization: 'not-a-real-key' })).toBe('not-a-real-key');
  });
});

describe('extractBearerJwt', () => {
  it('returns a Bearer JWT but never a Bearer site key', () => {
    expect(extractBearerJwt({ authorization: `Bearer ${jwt}` })).toBe(jwt);
    expect(extractBearerJwt({ authorization: `Bearer ${key}` })).toBeUndefined();
    expect(extractBearerJwt({ authorization: jwt })).toBeUndefined();
  });
});
