import { describe, expect, it } from '@jest/globals';
import { parseV2Request } from './v2-request.js';

const base = { site_id: 'example.com', metrics: ['visitors'], date_range: '7d' };
const parse = (filters: unknown[]) => parseV2Request({ ...base, filters });
const refusal = (filters: unknown[]) => {
  try {
    parse(filters);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('accepted');
};
const ID = '665f1c2b9d3e4a0012345678';

describe('parseV2Request: Plausible saved-segment filters', () => {
  it('takes a top-level ["is", "segment", [id]] as the segment, apart from the other filters', () => {
    const request = parse([
      ['is', 'visit:country', ['DE']],
      ['is', 'segment', [ID]],
    ]);
    expect(request.segment).toBe(ID);
    expect(request.filters).toEqual([['is', 'country', ['DE']]]);
    expect(parse([['is', 'visit:country', ['DE']]]).segment).toBeUndefined();
  });

  it('refuses what Siteline cannot AND with the other filters, saying why', () => {
    expect(refusal([['is', 'segment', [ID, '665f1c2b9d3e4a0012345679']]])).toContain('exactly one segment id');
    expect(refusal([['is', 'segment', ID]])).toContain('exactly one segment id');
    expect(
      refusal([
        ['is', 'segment', [ID]],
        ['is', 'segment', ['665f1c2b9d3e4a0012345679']],
      ]),
    ).toBe('filters: Siteline applies one saved segment per query');
    expect(refusal([['not', ['is', 'segment', [ID]]]])).toContain('must stand at the top level');
    expect(refusal([['is_not', 'segment', [ID]]])).toContain('must stand at the top level');
    expect(refusal([['is', 'segment', [{ $ne: null }]]])).toContain('a segment id is a string');
  });
});
