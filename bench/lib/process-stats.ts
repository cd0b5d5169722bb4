import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second (`getconf CLK_TCK`), 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;
const SAMPLE_MS = 100;

function cpuTicks(pid: number, statPath = `/proc/${pid}/stat`): number {
  const stat = readFileSync(statPath, 'utf8');
  // The command name may contain spaces; fields after it are fixed: utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU seconds a process has used so far, all threads (dead ones included) and its main thread
 * alone (the thread whose id is the pid: Node's event loop, where requests and the app's
 * background jobs run; the rest is V8's garbage-collector helpers and libuv's pool).
 */
export function cpuSeconds(pid: number): { total: number; mainThread: number } {
  return {
    total: cpuTicks(pid) / TICKS_PER_SECOND,
    mainThread: cpuTicks(pid, `/proc/${pid}/task/${pid}/stat`) / TICKS_PER_SECOND,
  };
}

export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

export interface ProcessUsage {
  /** CPU time of all the process's threads over the window, as % of one core (200% = both cores busy). */
  cpuPercent: number;
  peakRssMb: number;
  endRssMb: number;
}

/** Samples a process's RSS every 100 ms and its CPU time at start and stop. */
export class ProcessMonitor {
  private readonly startTicks: number;
  private readonly startedAt = performance.now();
  private peak = 0;
  private last = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.startTicks = cpuTicks(pid);
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  stop(): ProcessUsage {
    clearInterval(this.timer);
    this.sample();
    const seconds = (performance.now() - this.startedAt) / 1000;
    const cpuSeconds = (cpuTicks(this.pid) - this.startTicks) / TICKS_PER_SECOND;
    return {
      cpuPercent: Math.round((cpuSeconds / seconds) * 100),
      peakRssMb: Math.round(this.peak / 2 ** 20),
      endRssMb: Math.round(this.last / 2 ** 20),
    };
  }

  private sample(): void {
    try {
      this.last = rssBytes(this.pid);
      this.peak = Math.max(this.peak, this.last);
    } catch {
      // The process ended; keep what was measured.
    }
  }
}
