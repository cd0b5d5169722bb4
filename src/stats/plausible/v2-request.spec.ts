import { describe, expect, it } from '@jest/globals';
import { parseV2Request } from './v2-request.js';

const base = { site_id: 'example.com', metrics: ['visitors'], date_range: '7d' };
const filtersOf = (filters: unknown[]) => parseV2Request({ ...base, filters }).filters;
const refusal = (body: Record<string, unknown>) => {
  try {
    parseV2Request({ ...base, ...body });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};

describe('parseV2Request: v2 filters as conditions that must all hold', () => {
  it('maps names and operators, and flattens and', () => {
    expect(
      filtersOf([
        [
          'and',
          [
            ['contains_not', 'event:page', ['/blog']],
            ['is', 'event:props:plan', ['pro', 5]],
          ],
        ],
        ['is_not', 'visit:utm_term', ['shoes']],
      ]),
    ).toEqual([
      ['not_contains', 'page', ['/blog']],
      ['is', 'prop:plan', ['pro', 5]],
      ['is_not', 'utm_term', ['shoes']],
    ]);
  });

  it('negates through not, and through and/or by De Morgan', () => {
    expect(filtersOf([['not', ['contains', 'event:page', ['x']]]])).toEqual([['not_contains', 'page', ['x']]]);
    expect(filtersOf([['not', ['not', ['is', 'event:name', ['Signup']]]]])).toEqual([['is', 'event_name', ['Signup']]]);
    // not(a or b) = not a and not b
    expect(
      filtersOf([
        [
          'not',
          [
            'or',
            [
              ['is', 'visit:country', ['DE']],
              ['is', 'visit:device', ['mobile']],
            ],
          ],
        ],
      ]),
    ).toEqual([
      ['is_not', 'country', ['DE']],
      ['is_not', 'device', ['mobile']],
    ]);
    // not(is_not a and is_not b) = is a or is b, on one dimension: one condition with both values
    expect(
      filtersOf([
        [
          'not',
          [
            'and',
            [
              ['is_not', 'event:page', ['/a']],
              ['is_not', 'event:page', ['/b']],
            ],
          ],
        ],
      ]),
    ).toEqual([['is', 'page', ['/a', '/b']]]);
  });

  it('merges or on one dimension and one positive operator, and refuses any other or', () => {
    expect(
      filtersOf([
        [
          'or',
          [
            ['contains', 'event:page', ['blog']],
            ['contains', 'event:page', ['news']],
          ],
        ],
      ]),
    ).toEqual([['contains', 'page', ['blog', 'news']]]);
    expect(
      refusal({
        filters: [
          [
            'or',
            [
              ['is', 'event:page', ['/']],
              ['is', 'visit:country', ['DE']],
            ],
          ],
        ],
      }),
    ).toContain('or is supported by Siteline only between');
    expect(
      refusal({
        filters: [
          [
            'or',
            [
              ['is_not', 'event:page', ['/']],
              ['is_not', 'event:page', ['/a']],
            ],
          ],
        ],
      }),
    ).toContain('or is supported by Siteline only between');
  });

  it('names what Siteline does not support, and refuses hostile property keys', () => {
    expect(refusal({ metrics: ['exit_rate'] })).toContain('`exit_rate` is not supported by Siteline');
    expect(refusal({ filters: [['has_done', ['is', 'event:page', ['/']]]] })).toContain(
      'Siteline supports has_done only around ["is", "event:goal", [goal names]]',
    );
    expect(filtersOf([['not', ['has_done', ['is', 'event:goal', ['Signup']]]]])).toEqual([
      ['has_not_done', 'goal', ['Signup']],
    ]);
    expect(refusal({ filters: [['matches', 'event:page', ['^/b']]] })).toContain('`matches` is not supported');
    expect(refusal({ filters: [['contains', 'event:page', ['B'], { case_sensitive: true }]] })).toContain(
      'contains ignores case',
    );
    expect(refusal({ dimensions: ['visit:channel'] })).toContain('`visit:channel` is not supported');
    expect(refusal({ dimensions: ['event:props:a.b'] })).toContain('property key');
    expect(refusal({ filters: [['is', 'event:props:$where', ['x']]] })).toContain('property key');
    expect(refusal({ date_range: ['2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z'] })).toContain('ranges with times');
  });
});
