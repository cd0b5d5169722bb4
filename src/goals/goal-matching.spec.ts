import { describe, expect, it } from '@jest/globals';
import { goalMatchesHit, goalPrefilter, pagePathRegex, type GoalDefinition } from './goal-matching.js';

const page = (pagePath: string): GoalDefinition => ({ kind: 'page', pagePath });
const pageview = (path: string) => ({ name: 'pageview', path });

describe('goal matching', () => {
  it.each([
    ['/blog/*', '/blog/a', true],
    ['/blog/*', '/blog/a/b', true],
    ['/blog/*', '/blog/', true],
    ['/blog/*', '/blog', false],
    ['/blog/*', '/Blog/a', false],
    ['/a.b', '/a.b', true],
    ['/a.b', '/axb', false],
    ['/pricing', '/pricing/', false],
    ['/*/edit', '/posts/1/edit', true],
    ['/(x)|[y]?', '/(x)|[y]?', true],
    ['/(x)|[y]?', '/x', false],
  ])('page goal %s against %s: %s', (pattern, path, expected) => {
    expect(goalMatchesHit(page(pattern), pageview(path))).toBe(expected);
    expect(new RegExp(pagePathRegex(pattern)).test(path)).toBe(expected);
  });

  it('matches page goals on page views only', () => {
    expect(goalMatchesHit(page('/pricing'), { name: 'Signup', path: '/pricing' })).toBe(false);
  });

  it('matches event goals by name and, when set, one property compared as text', () => {
    const signup: GoalDefinition = { kind: 'event', eventName: 'Signup', property: null };
    const fiveSeats: GoalDefinition = { kind: 'event', eventName: 'Signup', property: { key: 'seats', value: '5' } };
    expect(goalMatchesHit(signup, { name: 'Signup', path: '/' })).toBe(true);
    expect(goalMatchesHit(signup, { name: 'signup', path: '/' })).toBe(false);
    expect(goalMatchesHit(fiveSeats, { name: 'Signup', path: '/', props: { seats: 5 } })).toBe(true);
    expect(goalMatchesHit(fiveSeats, { name: 'Signup', path: '/', props: { seats: '5' } })).toBe(true);
    expect(goalMatchesHit(fiveSeats, { name: 'Signup', path: '/', props: { seats: 6 } })).toBe(false);
    expect(goalMatchesHit(fiveSeats, { name: 'Signup', path: '/' })).toBe(false);
  });

  it('prefilters on the name and page path only, literally', () => {
    expect(goalPrefilter(page('/blog/*'))).toEqual({ name: 'pageview', path: { $regex: '^\\/blog\\/.*$' } });
    expect(goalPrefilter(page('/$where'))).toEqual({ name: 'pageview', path: '/$where' });
    expect(goalPrefilter({ kind: 'event', eventName: 'Signup', property: { key: 'plan', value: 'pro' } })).toEqual({
      name: 'Signup',
    });
  });
});
