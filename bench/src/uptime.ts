// P10: whether a proxy's cost grows with its uptime. ztka and the remotedialer peer are measured fresh,
// then after many requests each, then again: CPU per small GET and per MB of LIST, resident memory, and the
// size of ztka's database and its write-ahead log.
import fs from 'node:fs/promises';
import type { TestEnv } from '@ztka/testenv';
import { configMapNamespace, type Row } from './cases.js';
import { MB, cpuDuring, rss } from './stats.js';
import { request, type Target } from './targets.js';

const GET = '/api/v1/namespaces/default';

interface Cost {
  perGet: number;
  perMB: number;
  rssMB: number;
  /** Each process's resident memory, MB. */
  rssOf: Record<string, number>;
}

/** `n` small GETs from `clients` clients at once; throws on a failed one. */
async function gets(t: Target, n: number, clients: number): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        next++;
        const r = await request(t, GET);
        if (r.status !== 200) throw new Error(`P10 ${t.name}: status ${r.status}`);
      }
    }),
  );
  return n;
}

/** The CPU of `t`'s own processes per small GET and per MB of LIST, and their resident memory. */
async function cost(t: Target, list: string, probe: number): Promise<Cost> {
  const own = (cpu: Record<string, number>) => Object.values(cpu).reduce((a, b) => a + b, 0);
  const g = await cpuDuring(t.processes, () => gets(t, probe, 16));
  let bytes = 0;
  const l = await cpuDuring(t.processes, async () => {
    for (let i = 0; i < 3; i++) {
      const r = await request(t, list);
      if (r.status !== 200) throw new Error(`P10 ${t.name} LIST: status ${r.status}`);
      bytes += r.bytes;
    }
  });
  const rssOf = Object.fromEntries(Object.entries(t.processes).map(([name, pid]) => [name, rss(pid) / MB]));
  const rssMB = Object.values(rssOf).reduce((sum, mb) => sum + mb, 0);
  return { perGet: own(g.cpu) / probe, perMB: own(l.cpu) / (bytes / MB), rssMB, rssOf };
}

async function fileMB(file: string): Promise<number> {
  return ((await fs.stat(file).catch(() => undefined))?.size ?? 0) / MB;
}

export async function p10(
  env: TestEnv,
  targets: Target[],
  requests: number,
  database: string,
): Promise<Row[]> {
  const measured = targets.filter((t) => t.name === 'ztka' || t.name === 'remotedialer');
  const ns = await configMapNamespace(env, targets, 'bench-uptime', 200);
  const list = `/api/v1/namespaces/${ns}/configmaps`;
  const probe = Math.max(50, Math.min(2000, Math.floor(requests / 10)));
  for (const t of measured) await gets(t, 200, 16); // warm: pools, handshakes, optimised code
  const wal = `${database}-wal`;
  const before = { db: await fileMB(database), wal: await fileMB(wal) };
  const fresh: Record<string, Cost> = {};
  for (const t of measured) fresh[t.name] = await cost(t, list, probe);
  // The uptime: every target takes the same number of requests, in interleaved slices.
  const slices = 10;
  for (let s = 0; s < slices; s++) for (const t of measured) await gets(t, Math.ceil(requests / slices), 64);
  const aged: Record<string, Cost> = {};
  for (const t of measured) aged[t.name] = await cost(t, list, probe);
  const after = { db: await fileMB(database), wal: await fileMB(wal) };
  await env.admin(['delete', 'namespace', ns, '--wait=false']);

  const name = `P10 uptime, ${requests} requests each`;
  const pair = (pick: (c: Cost) => number) =>
    Object.fromEntries(
      measured.flatMap((t) => [
        [`${t.name} fresh`, pick(fresh[t.name] as Cost)],
        [`${t.name} aged`, pick(aged[t.name] as Cost)],
      ]),
    );
  /** A CPU row: fresh and aged for each, and ztka's growth against its goal. */
  const cpuRow = (metric: string, pick: (c: Cost) => number): Row => {
    const growth = pick(aged['ztka'] as Cost) / pick(fresh['ztka'] as Cost);
    const goal = 'ztka aged / fresh ≤ 1.2';
    return { case: name, metric, unit: 'ms', values: pair(pick), ratio: growth, goal, met: growth <= 1.2 };
  };
  return [
    cpuRow('proxy CPU per small GET', (c) => c.perGet),
    cpuRow('proxy CPU per MB of LIST', (c) => c.perMB),
    {
      case: name,
      metric: 'resident memory, all its processes',
      unit: 'MB',
      values: pair((c) => c.rssMB),
      note: measured
        .flatMap((t) =>
          Object.keys(fresh[t.name]?.rssOf ?? {}).map(
            (p) =>
              `${t.name} ${p} ${(fresh[t.name]?.rssOf[p] ?? 0).toFixed(0)} → ${(aged[t.name]?.rssOf[p] ?? 0).toFixed(0)}`,
          ),
        )
        .join(', '),
    },
    {
      case: name,
      metric: "ztka's SQLite database / its WAL, fresh → aged",
      unit: 'MB',
      values: {},
      note: `${before.db.toFixed(1)} / ${before.wal.toFixed(1)} → ${after.db.toFixed(1)} / ${after.wal.toFixed(1)}`,
    },
  ];
}
