import { readFileSync } from 'node:fs';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export const median = (values: readonly number[]) => percentile(values, 50);

/** Resident memory of a process, in bytes (0 once it is gone). */
export function rss(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used so far, in ms (0 once it is gone). */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    // Fields 14 and 15 of /proc/<pid>/stat, counted after the command name, which may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS);
  } catch {
    return 0;
  }
}

/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** The CPU time each named process spends while `work` runs, in ms. */
export async function cpuDuring<T, K extends string>(
  pids: Record<K, number | undefined>,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<K, number> }> {
  const names = Object.keys(pids) as K[];
  const before = names.map((n) => cpuMs(pids[n]));
  const result = await work();
  const cpu = Object.fromEntries(names.map((n, i) => [n, cpuMs(pids[n]) - (before[i] ?? 0)])) as Record<
    K,
    number
  >;
  return { result, cpu };
}

/** Samples the peak RSS of `pids` while `work` runs. */
export async function peakRss<T>(
  pids: readonly (number | undefined)[],
  work: () => Promise<T>,
): Promise<{ result: T; baseline: number[]; peak: number[] }> {
  const baseline = pids.map(rss);
  const peak = [...baseline];
  const timer = setInterval(() => pids.forEach((pid, i) => (peak[i] = Math.max(peak[i] ?? 0, rss(pid)))), 10);
  try {
    const result = await work();
    return { result, baseline, peak };
  } finally {
    clearInterval(timer);
  }
}

export const MB = 1024 * 1024;
