import { describe, expect, it } from '@jest/globals';
import {
  storedVisitorRowField,
  storedVisitorRowFields,
  visitorRowCondition,
  visitorRowOf,
  visitorRowPath,
} from './visitor-row-names.js';

describe('visitor row names', () => {
  const row = {
    siteId: 'site',
    day: '2024-05-01',
    visitorKey: 'a1b2',
    classification: 'USER',
    countryCode: 'FR',
    pageviews: 2,
    events: 3,
    firstTs: new Date('2024-05-01T10:00:00Z'),
    lastTs: new Date('2024-05-01T11:00:00Z'),
    identified: 1,
  };

  it('stores the common fields short, leaves the dimension fields and day under their hit names, and reads them back', () => {
    const stored = storedVisitorRowFields<unknown>(row);
    expect(Object.keys(stored).sort()).toEqual(['c', 'countryCode', 'day', 'e', 'i', 'l', 'p', 's', 'siteId', 'v']);
    expect(visitorRowOf(stored)).toEqual(row);
    expect(visitorRowPath('visitorKey')).toBe('$v');
    expect(storedVisitorRowField('path')).toBe('path');
  });

  it('maps the field names of a condition at every level of $and, $or and $nor, not its values', () => {
    expect(
      visitorRowCondition({
        $and: [
          { siteId: 'site' },
          { classification: 'USER' },
          { $or: [{ visitorKey: { $regex: 'classification', $options: 'i' } }] },
          { $nor: [{ countryCode: { $in: ['visitorKey'] } }] },
        ],
      }),
    ).toEqual({
      $and: [
        { siteId: 'site' },
        { c: 'USER' },
        { $or: [{ v: { $regex: 'classification', $options: 'i' } }] },
        { $nor: [{ countryCode: { $in: ['visitorKey'] } }] },
      ],
    });
  });

  it('refuses an $expr, whose field paths it cannot map', () => {
    expect(() => visitorRowCondition({ $expr: { $eq: ['$classification', 'BOT'] } })).toThrow('$expr');
  });
});
