import { describe, expect, it } from '@jest/globals';
import { bucketLabels } from './buckets.js';

describe('time buckets', () => {
  it('lists bucket labels, with 23 hours on the day DST starts', () => {
    const day = { year: 2024, month: 3, day: 10 };
    expect(bucketLabels(day, day, 'hour', 'America/New_York')).toHaveLength(23);
    expect(bucketLabels(day, day, 'hour', 'UTC')).toHaveLength(24);
    expect(bucketLabels({ year: 2024, month: 1, day: 30 }, { year: 2024, month: 3, day: 2 }, 'month', 'UTC')).toEqual([
      '2024-01-01',
      '2024-02-01',
      '2024-03-01',
    ]);
    expect(bucketLabels({ year: 2024, month: 2, day: 8 }, { year: 2024, month: 2, day: 12 }, 'week', 'UTC')).toEqual([
      '2024-02-05',
      '2024-02-12',
    ]);
  });
});
