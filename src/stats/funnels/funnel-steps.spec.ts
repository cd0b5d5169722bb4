import { describe, expect, it } from '@jest/globals';
import { funnelStepFigures, percentage } from './funnel-steps.js';

describe('funnelStepFigures: from visitors per deepest level to each step', () => {
  it('counts a visitor at every step up to their deepest, with drop-off and conversions', () => {
    // 5 never entered, 4 stopped at step 1, 3 at step 2, 1 completed all 3.
    const figures = funnelStepFigures(
      new Map([
        [0, 5],
        [1, 4],
        [2, 3],
        [3, 1],
      ]),
      3,
    );
    expect(figures).toEqual([
      { visitors: 8, dropoff: 0, dropoffPercentage: 0, conversionRate: 100, conversionRateStep: 100 },
      { visitors: 4, dropoff: 4, dropoffPercentage: 50, conversionRate: 50, conversionRateStep: 50 },
      { visitors: 1, dropoff: 3, dropoffPercentage: 75, conversionRate: 12.5, conversionRateStep: 25 },
    ]);
  });

  it('answers zeros, not NaN, when nobody entered', () => {
    expect(funnelStepFigures(new Map([[0, 7]]), 2)).toEqual([
      { visitors: 0, dropoff: 0, dropoffPercentage: 0, conversionRate: 0, conversionRateStep: 0 },
      { visitors: 0, dropoff: 0, dropoffPercentage: 0, conversionRate: 0, conversionRateStep: 0 },
    ]);
  });

  it('rounds percentages to two decimals', () => {
    expect(percentage(1, 3)).toBe(33.33);
    expect(percentage(2, 3)).toBe(66.67);
    expect(percentage(0, 0)).toBe(0);
  });
});
