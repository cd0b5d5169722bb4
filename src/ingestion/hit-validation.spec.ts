import { describe, expect, it } from '@jest/globals';
import { getMetadataStorage } from 'class-validator';
import fc from 'fast-check';
import { HitDto } from './dto/hit.dto.js';
import { HIT_FAST_PATH_FIELDS, validateHit, validateItem } from './hit-validation.js';

/** Values near every rule's edges: lengths at and past each limit, empty, null, wrong types, IPs, dates. */
const edgyString = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom(64, 65, 128, 129, 256, 257, 1024, 1025, 2048, 2049).map((length) => 'x'.repeat(length)),
  // Length is counted in characters by class-validator: an emoji is one, though two UTF-16 units.
  fc.constantFrom(64, 65, 128, 129).map((length) => '😀'.repeat(length)),
  fc.constantFrom('203.0.113.7', '::1', '2001:db8::7', '999.1.1.1', '01.2.3.4', 'fe80::1%eth0', '1.2.3'),
  fc.constantFrom('2024-03-01T12:00:00Z', '2024-03-01', '2024-02-30T00:00:00Z', '2024-03-01T25:00:00Z', 'yesterday'),
  fc.constantFrom('', ' ', '/', 'https://example.com/a?utm_source=x'),
);
const edgyValue = fc.oneof(
  edgyString,
  fc.constantFrom(null, 0, 1.5, true, [], ['x']),
  fc.dictionary(fc.constantFrom('plan', 'a.b', '$x', 'n', ''), fc.oneof(edgyString, fc.integer(), fc.boolean()), {
    maxKeys: 3,
  }),
);
const fieldNames = fc.constantFrom(...HIT_FAST_PATH_FIELDS, 'color', 'constructor', '__proto__', 'toString');
const hitLike = fc.dictionary(fieldNames, edgyValue, { maxKeys: 6 }).map((fields) => ({ url: '/', ...fields }));

describe('validateHit', () => {
  it('gives exactly the verdict and the fields of validateItem(HitDto) for any input (property)', () => {
    fc.assert(
      fc.property(fc.oneof(hitLike, fc.dictionary(fieldNames, edgyValue, { maxKeys: 4 })), (raw) => {
        const fast = validateHit(raw);
        const full = validateItem(HitDto, raw);
        if (typeof full === 'string') expect(fast).toBe(full);
        else expect({ ...(fast as object) }).toEqual({ ...full });
      }),
      { numRuns: 3000 },
    );
  });

  it('checks every field HitDto declares itself (a decorator it does not know sends hits with that field to class-validator)', () => {
    const declared = new Set(
      getMetadataStorage()
        .getTargetValidationMetadatas(HitDto, '', true, false)
        .map((metadata) => metadata.propertyName),
    );
    expect([...HIT_FAST_PATH_FIELDS].sort()).toEqual([...declared].sort());
  });

  it('takes an optional field sent as null for one not sent, on either path', () => {
    const hit = { url: '/', siteId: null, referrer: null, userId: null, props: null, timestamp: null };
    // toEqual tells null from undefined (left out): no null is left.
    expect({ ...(validateHit(hit) as object) }).toEqual({ url: '/' });
    expect({ ...(validateItem(HitDto, { url: '/', eventId: null, name: 'signup' }) as object) }).toEqual({
      url: '/',
      name: 'signup',
    });
    // A required field is still required: null is no url.
    expect(validateHit({ url: null })).toMatch(/^url/);
  });

  it('refuses what the DTO refuses, with the message naming the field', () => {
    expect(validateHit({ url: '/', referrer: null, name: '' })).toMatch(/^name/);
    expect(validateHit({ url: '/', userId: 'x'.repeat(257) })).toMatch(/^userId/);
    expect(validateHit({ url: '/', color: 'red' })).toMatch(/color/);
  });
});
