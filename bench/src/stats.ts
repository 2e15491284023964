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
