const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Converts a validated duration such as `15m` or `30d` to whole seconds. */
export function durationToSeconds(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`Not a duration: ${duration}`);
  return Math.max(1, Math.round(Number(match[1]) * UNIT_SECONDS[match[2]]));
}
