import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  location: string;
  selfMs: number;
  selfPercent: number;
}

function shortUrl(url: string): string {
  const cleaned = url.replace(/^file:\/\//, '');
  const nodeModules = cleaned.lastIndexOf('node_modules/');
  if (nodeModules !== -1) return cleaned.slice(nodeModules + 'node_modules/'.length);
  const build = cleaned.indexOf('bench-build/');
  return build !== -1 ? cleaned.slice(build + 'bench-build/'.length) : cleaned || '(native)';
}

/** Self time per function (summed over its call sites) from a V8 .cpuprofile, largest first. */
export function topSelfTime(
  path: string,
  limit = 25,
): { totalMs: number; idlePercent: number; functions: HotFunction[] } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const totals = new Map<string, HotFunction>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') idleUs += us;
    const location = `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    const key = `${name} ${location}`;
    const entry = totals.get(key) ?? { name, location, selfMs: 0, selfPercent: 0 };
    entry.selfMs += us / 1000;
    totals.set(key, entry);
  }
  const functions = [...totals.values()]
    .filter((entry) => entry.name !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, limit)
    .map((entry) => ({
      ...entry,
      selfMs: Math.round(entry.selfMs),
      selfPercent: Math.round((entry.selfMs / (totalUs / 1000)) * 1000) / 10,
    }));
  return { totalMs: Math.round(totalUs / 1000), idlePercent: Math.round((idleUs / totalUs) * 1000) / 10, functions };
}

/** Self time grouped by package (or by our own directory), to see where the CPU goes at a glance. */
export function selfTimeByArea(path: string): Array<{ area: string; percent: number }> {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const areas = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    const us = profile.timeDeltas[index] ?? 0;
    if (!node) return;
    total += us;
    const url = shortUrl(node.callFrame.url);
    const name = node.callFrame.functionName;
    const area =
      name === '(idle)'
        ? '(idle)'
        : name === '(garbage collector)'
          ? '(gc)'
          : url.includes('/')
            ? url
                .split('/')
                .slice(0, url.startsWith('@') ? 2 : 1)
                .join('/')
            : url;
    areas.set(area, (areas.get(area) ?? 0) + us);
  });
  return [...areas.entries()]
    .map(([area, us]) => ({ area, percent: Math.round((us / total) * 1000) / 10 }))
    .sort((a, b) => b.percent - a.percent)
    .slice(0, 15);
}
