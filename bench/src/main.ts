#!/usr/bin/env node
// `npm run bench [-- --full | --smoke]`: starts the real control plane, a controller and an agent, then
// measures ztka against direct access and `kubectl proxy` in the same run, and prints a table.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRootPath, testEnv, Ztka } from '@ztka/testenv';
import { p6, p6Writers } from './audit.js';
import { p1, p2, p3, p4, p5, p7, p8, type Row, type Sizes } from './cases.js';
import { percentile } from './stats.js';
import { latencySvg, table, writeResults } from './report.js';
import { openTargets } from './targets.js';
import { p9, type ReplicaSizes } from './replicas.js';
import { p10 } from './uptime.js';

const SIZES: Record<'smoke' | 'quick' | 'full', Sizes & { p9: ReplicaSizes; p10Requests: number }> = {
  smoke: {
    p1Requests: 50,
    p2ConfigMaps: 20,
    p3Seconds: 1,
    p3Clients: 16,
    p4Megabytes: 1,
    p5Agents: 5,
    p6Records: 5000,
    p6PostgresRecords: 3000,
    p7People: 3,
    p8Calls: 3,
    p10Requests: 200,
    p9: { seconds: 1, clients: 8, agents: 5 },
  },
  quick: {
    p1Requests: 1000,
    p2ConfigMaps: 1000,
    p3Seconds: 5,
    p3Clients: 256,
    p4Megabytes: 20,
    p5Agents: 200,
    p6Records: 1_000_000,
    p6PostgresRecords: 200_000,
    p7People: 30,
    p8Calls: 20,
    p10Requests: 20_000,
    p9: { seconds: 5, clients: 64, agents: 100 },
  },
  full: {
    p1Requests: 5000,
    p2ConfigMaps: 5000,
    p3Seconds: 20,
    p3Clients: 256,
    p4Megabytes: 100,
    p5Agents: 2000,
    p6Records: 10_000_000,
    p6PostgresRecords: 1_000_000,
    p7People: 100,
    p8Calls: 50,
    p10Requests: 100_000,
    p9: { seconds: 10, clients: 64, agents: 500 },
  },
};

const { values } = parseArgs({
  options: {
    full: { type: 'boolean' },
    smoke: { type: 'boolean' },
    out: { type: 'string' },
    // e.g. --cases P1,P5 to measure only those (P9, several replicas, runs only when named); --agents N
    // overrides P5's count
    cases: { type: 'string' },
    agents: { type: 'string' },
  },
});
const mode = values.smoke ? 'smoke' : values.full ? 'full' : 'quick';
const sizes = { ...SIZES[mode], ...(values.agents ? { p5Agents: Number(values.agents) } : {}) };
const wanted = new Set(
  (values.cases ?? 'P1,P2,P3,P4,P5,P6,P7,P8,P10').split(',').map((c) => c.trim().toUpperCase()),
);
const want = (c: string) => wanted.has(c);
const say = (line: string) => console.error(`bench: ${line}`);

const env = await testEnv();
// Production keepalive: with thousands of simulated agents in one process, 1 s pings would measure the
// bench's own event loop rather than the controller. The bench is one person sending as fast as the
// machine allows, which is what the per-person rate limit exists to stop: it is off here, and the limit's
// own cost (one in-memory counter per request) is below what the bench can resolve.
const z = await Ztka.start({ agentPingIntervalMs: 15_000, env: { ZTKA_RATE_LIMIT_PER_PERSON: '0' } });
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-bench-'));
let exitCode = 0;
try {
  await z.connectCluster('bench', env.kubeconfig);
  const pids = z.pids();
  const processes = { apiserver: env.components.find((c) => c.name === 'kube-apiserver')?.pid };
  const targets = await openTargets(env, z, 'bench', sizes.p3Clients, tmp);
  const rows: Row[] = [];
  try {
    let samples: Record<string, number[]> = {};
    if (want('P1')) {
      say(`P1: ${sizes.p1Requests} sequential small GETs per target`);
      const first = await p1([...targets.all, targets.directAsJit], sizes.p1Requests);
      rows.push(...first.rows);
      samples = first.samples;
    }
    if (want('P2')) {
      say(`P2: LIST of ${sizes.p2ConfigMaps} ConfigMaps of 10 KB`);
      rows.push(...(await p2(env, targets.all, sizes.p2ConfigMaps, processes)));
    }
    if (want('P3')) {
      say(`P3: ${sizes.p3Clients} concurrent clients for ${sizes.p3Seconds}s per target`);
      rows.push(...(await p3(targets.all, sizes.p3Clients, sizes.p3Seconds, processes)));
    }
    if (want('P4')) {
      say(`P4: exec cat of ${sizes.p4Megabytes} MB`);
      rows.push(...(await p4(env, targets.all, sizes.p4Megabytes, processes)));
    }
    if (want('P5')) {
      say(`P5: ${sizes.p5Agents} simulated agents`);
      rows.push(...(await p5(z, sizes.p5Agents, pids.controller)));
    }
    if (want('P6')) {
      say(`P6: audit trail of ${sizes.p6Records} records`);
      rows.push(...(await p6(sizes.p6Records)));
      say(`P6: audit ingest on PostgreSQL, 1 writer and 3, ${sizes.p6PostgresRecords} records each`);
      rows.push(...(await p6Writers(sizes.p6PostgresRecords)));
    }
    if (want('P7')) {
      say(`P7: first access of ${sizes.p7People} new people`);
      const ztka = targets.all.find((t) => t.name === 'ztka');
      if (ztka) rows.push(...(await p7(z, ztka, 'bench', sizes.p7People)));
    }
    if (want('P9')) {
      say(`P9: 1, 2 and 3 replicas on PostgreSQL behind haproxy`);
      rows.push(...(await p9(env, sizes.p9, say)));
    }
    if (want('P10')) {
      say(`P10: uptime, ${sizes.p10Requests} small GETs each through ztka and the remotedialer peer`);
      const database = path.join(z.dir, 'controller', 'ztka.db');
      rows.push(...(await p10(env, targets.all, sizes.p10Requests, database)));
    }
    if (want('P8')) {
      say(`P8: kubectl per call, exec-credential against an embedded token, ${sizes.p8Calls} calls each`);
      rows.push(...(await p8(z, 'bench', sizes.p8Calls)));
    }
    console.log(`\n${table(rows)}\n`);
    for (const r of rows)
      if (r.versus && r.ratio !== undefined)
        console.log(`ztka/remotedialer ${r.versus.caseId} ${r.versus.measure} ratio ${r.ratio.toFixed(2)}`);
    const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
    const out =
      values.out ??
      (mode === 'smoke' ? path.join(tmp, 'results') : path.join(repoRootPath, 'bench', 'results'));
    const files = await writeResults(
      out,
      `${stamp}${mode === 'quick' ? '' : `-${mode}`}`,
      rows,
      latencySvg(samples, percentile),
      mode,
    );
    say(`wrote ${files.join(', ')}`);
  } finally {
    await targets.stop();
  }
} catch (err) {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  exitCode = 1;
} finally {
  await z.stop();
  await fs.rm(tmp, { recursive: true, force: true });
}
process.exit(exitCode);
