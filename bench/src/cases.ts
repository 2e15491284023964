// The benchmark cases. Each measures every target in the same run, interleaved, so the machine's noise
// lands on all of them alike and the ratios stay meaningful.
import { spawn } from 'node:child_process';
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  kubectl,
  kubectlEnv,
  kubectlPath,
  podSandbox,
  runningPod,
  ZtkaCli,
  type TestEnv,
  type Ztka,
} from '@ztka/testenv';
import { TunnelClient } from '@ztka/agent/tunnel-client';
import { generateAgentKey } from '@ztka/protocol';
import { pino } from 'pino';
import { MB, cpuDuring, median, peakRss, percentile, rss } from './stats.js';
import { request, type Target } from './targets.js';
import { readOverBareTls } from './tls-floor.js';

export interface Sizes {
  p1Requests: number;
  p2ConfigMaps: number;
  p3Seconds: number;
  p3Clients: number;
  p4Megabytes: number;
  p5Agents: number;
  p6Records: number;
  /** Records per run of P6 on PostgreSQL (one writer, then three). */
  p6PostgresRecords: number;
  p7People: number;
  p8Calls: number;
}

/** One row of the results table: a metric per target, and how ztka compares with its goal. */
export interface Row {
  case: string;
  metric: string;
  unit: string;
  values: Record<string, number>;
  /** ztka's figure relative to direct access (or to kubectl proxy's overhead for P1). */
  ratio?: number;
  goal?: string;
  met?: boolean;
  note?: string;
  /** Set on a comparison with the peer: printed as `ztka/remotedialer <caseId> <measure> ratio <x>`. */
  versus?: { caseId: string; measure: string };
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/** P1: small GETs, sequential, keep-alive. */
export async function p1(
  targets: Target[],
  n: number,
): Promise<{ rows: Row[]; samples: Record<string, number[]> }> {
  const samples: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (const t of targets) await request(t, '/api/v1/namespaces/default'); // warm connections
  const batch = 50;
  for (let done = 0; done < n; done += batch) {
    for (const t of targets) {
      for (let i = 0; i < batch; i++) {
        const start = process.hrtime.bigint();
        const r = await request(t, '/api/v1/namespaces/default');
        if (r.status !== 200) throw new Error(`P1 ${t.name}: status ${r.status}`);
        samples[t.name]?.push(ms(start));
      }
    }
  }
  const p = (q: number) =>
    Object.fromEntries(targets.map((t) => [t.name, percentile(samples[t.name] ?? [], q)]));
  const p50 = p(50);
  const p99 = p(99);
  const added = (name: string) => (p50[name] ?? 0) - (p50['direct'] ?? 0);
  const ztkaAdded = added('ztka');
  const proxyAdded = added('kubectl proxy');
  const addedValues: Record<string, number> = { 'kubectl proxy': proxyAdded, ztka: ztkaAdded };
  if (p50['remotedialer'] !== undefined) addedValues['remotedialer'] = added('remotedialer');
  const rows: Row[] = [
    { case: 'P1 small GET', metric: 'p50 latency', unit: 'ms', values: p50 },
    { case: 'P1 small GET', metric: 'p99 latency', unit: 'ms', values: p99 },
    {
      case: 'P1 small GET',
      metric: 'added p50 latency vs direct',
      unit: 'ms',
      values: addedValues,
      ratio: ztkaAdded / proxyAdded,
      goal: 'ztka ≤ kubectl proxy',
      met: ztkaAdded <= proxyAdded,
    },
    ...versusPeer('P1', 'P1 small GET', 'added p50 latency', addedValues, 'lower'),
  ];
  if (p50['direct as JIT SA'] !== undefined) {
    rows.push({
      case: 'P1 small GET',
      metric: "of which the apiserver's RBAC for a least-privilege identity",
      unit: 'ms',
      values: { ztka: added('direct as JIT SA') },
      note: "direct with the JIT service account's token, minus direct as system:masters",
    });
  }
  return { samples, rows };
}

/**
 * A new namespace holding `count` ConfigMaps of 10 KB, made straight through the apiserver; its name. The
 * LIST of it is P2's and P10's large answer.
 */
export async function configMapNamespace(
  env: TestEnv,
  targets: Target[],
  prefix: string,
  count: number,
): Promise<string> {
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  await env.admin(['create', 'namespace', ns]);
  const direct = targets.find((t) => t.name === 'direct') as Target;
  const value = 'x'.repeat(10 * 1024);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) {
        const i = next++;
        const body = JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: `cm-${i}` },
          data: { v: value },
        });
        const r = await request(direct, `/api/v1/namespaces/${ns}/configmaps`, 'POST', body);
        if (r.status !== 201) throw new Error(`${prefix} setup: status ${r.status}`);
      }
    }),
  );
  return ns;
}

/** P2: one LIST of many 10 KB ConfigMaps: throughput, and the controller's and agent's memory growth. */
export async function p2(env: TestEnv, targets: Target[], count: number, pids: Processes): Promise<Row[]> {
  const ns = await configMapNamespace(env, targets, 'bench-list', count);
  const uri = `/api/v1/namespaces/${ns}/configmaps`;
  const speeds: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  let growth = { controller: 0, agent: 0 };
  const cpu = new CpuTally(pids, targets);
  const ztkaTarget = targets.find((t) => t.name === 'ztka');
  /** The bench's own CPU reading the LIST straight from the apiserver: what any Node.js reader pays. */
  const reader = { ms: 0, mb: 0 };
  /** The same, over a bare TLS socket with no HTTP parsing: what terminating the apiserver's TLS costs. */
  const floor = { ms: 0, mb: 0 };
  // One untimed LIST each first: the steady state is measured, not the first pass through cold code.
  for (const t of targets) await request(t, uri);
  for (let round = 0; round < 5; round++) {
    for (const t of targets) {
      const run = async () => {
        const start = process.hrtime.bigint();
        const own = process.cpuUsage();
        const r = await cpu.measure(
          t,
          () => request(t, uri),
          (reply) => reply.bytes / MB,
        );
        if (r.status !== 200) throw new Error(`P2 ${t.name}: status ${r.status}`);
        if (t.name === 'direct') {
          const used = process.cpuUsage(own);
          reader.ms += (used.user + used.system) / 1000;
          reader.mb += r.bytes / MB;
          const bare = await readOverBareTls(t, uri);
          floor.ms += bare.cpuMs;
          floor.mb += bare.bytes / MB;
        }
        return r.bytes / MB / (ms(start) / 1000);
      };
      if (t.name === 'ztka') {
        const own = ztkaTarget?.processes ?? {};
        const { result, baseline, peak } = await peakRss([own['controller'], own['agent']], run);
        speeds[t.name]?.push(result);
        growth = {
          controller: Math.max(growth.controller, (peak[0] ?? 0) - (baseline[0] ?? 0)),
          agent: Math.max(growth.agent, (peak[1] ?? 0) - (baseline[1] ?? 0)),
        };
      } else {
        speeds[t.name]?.push(await run());
      }
    }
  }
  await env.admin(['delete', 'namespace', ns, '--wait=false']);
  const mbps = Object.fromEntries(targets.map((t) => [t.name, median(speeds[t.name] ?? [])]));
  const ratio = (mbps['ztka'] ?? 0) / (mbps['direct'] ?? 1);
  const peakGrowth = Math.max(growth.controller, growth.agent) / MB;
  return [
    {
      case: `P2 LIST ${count} × 10 KB`,
      metric: 'throughput',
      unit: 'MB/s',
      values: mbps,
      ratio,
      goal: '≥ 90% of direct',
      met: ratio >= 0.9,
    },
    {
      case: `P2 LIST ${count} × 10 KB`,
      metric: 'peak RSS growth (controller / agent)',
      unit: 'MB',
      values: { 'ztka controller': growth.controller / MB, 'ztka agent': growth.agent / MB },
      goal: '≤ 64 MB',
      met: peakGrowth <= 64,
    },
    {
      case: `P2 LIST ${count} × 10 KB`,
      metric: "a Node.js HTTPS client's CPU per MB, reading it from the apiserver",
      unit: 'ms',
      values: { direct: reader.mb > 0 ? reader.ms / reader.mb : NaN },
      note: 'the bench itself: what a hop in Node.js that reads the answer with node:https pays',
    },
    {
      case: `P2 LIST ${count} × 10 KB`,
      metric: "a bare Node.js TLS reader's CPU per MB, no HTTP parsing",
      unit: 'ms',
      values: { direct: floor.mb > 0 ? floor.ms / floor.mb : NaN },
      note: "the floor under any Node.js process that terminates the apiserver's TLS",
    },
    ...versusPeer('P2', `P2 LIST ${count} × 10 KB`, 'throughput', mbps, 'higher'),
    ...cpu.rows('P2', `P2 LIST ${count} × 10 KB`, 'MB'),
  ];
}

/** P3: many concurrent clients hammering small GETs: a warm-up for each target, then interleaved rounds. */
export async function p3(
  targets: Target[],
  clients: number,
  seconds: number,
  pids: Processes,
): Promise<Row[]> {
  const ok: Record<string, number> = {};
  const elapsed: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const cpu = new CpuTally(pids, targets);
  const burst = async (t: Target, forMs: number) => {
    let done = 0;
    const deadline = Date.now() + forMs;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (Date.now() < deadline) {
          try {
            const r = await request(t, '/api/v1/namespaces/default');
            if (r.status === 200) done++;
            else errors[t.name] = (errors[t.name] ?? 0) + 1;
          } catch {
            errors[t.name] = (errors[t.name] ?? 0) + 1;
          }
        }
      }),
    );
    return done;
  };
  // Pools filled, handshakes done, code optimised: what is measured is the steady state, for every target.
  for (const t of targets) {
    errors[t.name] = 0;
    await burst(t, Math.min(1000, seconds * 200));
  }
  const rounds = 3;
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const start = process.hrtime.bigint();
      const result = await cpu.measure(
        t,
        () => burst(t, (seconds * 1000) / rounds),
        (n) => n,
      );
      ok[t.name] = (ok[t.name] ?? 0) + result;
      elapsed[t.name] = (elapsed[t.name] ?? 0) + ms(start) / 1000;
    }
  }
  const rates = Object.fromEntries(targets.map((t) => [t.name, (ok[t.name] ?? 0) / (elapsed[t.name] ?? 1)]));
  const ratio = (rates['ztka'] ?? 0) / (rates['direct'] ?? 1);
  return [
    {
      case: `P3 ${clients} concurrent clients`,
      metric: 'requests/s',
      unit: 'req/s',
      values: rates,
      ratio,
      goal: '≥ 70% of direct',
      met: ratio >= 0.7,
    },
    {
      case: `P3 ${clients} concurrent clients`,
      metric: 'errors',
      unit: 'count',
      values: errors,
      goal: '0',
      met: (errors['ztka'] ?? 1) === 0,
    },
    ...versusPeer('P3', `P3 ${clients} concurrent clients`, 'requests/s', rates, 'higher'),
    ...cpu.rows('P3', `P3 ${clients} concurrent clients`, 'request'),
  ];
}

/** The apiserver, whose CPU is counted for every target; each target's own processes count for it alone. */
export interface Processes {
  apiserver: number | undefined;
}

/** The side-by-side comparison with the peer of ztka's shape (remotedialer), as one row per measure. */
export function versusPeer(
  caseId: string,
  caseName: string,
  measure: string,
  values: Record<string, number>,
  better: 'higher' | 'lower',
): Row[] {
  const ztka = values['ztka'];
  const peer = values['remotedialer'];
  // A CPU time below the clock's 10 ms tick reads as 0 (at smoke sizes): no ratio rather than an infinite one.
  if (ztka === undefined || peer === undefined || !(ztka > 0) || !(peer > 0)) return [];
  const ratio = ztka / peer;
  return [
    {
      case: caseName,
      metric: `${measure}: ztka / remotedialer`,
      unit: 'ratio',
      values: {},
      ratio,
      goal: better === 'higher' ? '≥ 1' : '≤ 1',
      met: better === 'higher' ? ratio >= 1 : ratio <= 1,
      versus: { caseId, measure },
    },
  ];
}

/**
 * CPU spent per unit of work (a request, a MB), by process and target: where the time goes, so a ratio
 * short of its goal can be told apart as a proxy's own cost or the machine's.
 */
class CpuTally {
  private readonly spent = new Map<
    string,
    { apiserver: number; own: Record<string, number>; units: number }
  >();

  constructor(
    private readonly pids: Processes,
    targets: readonly Target[],
  ) {
    for (const t of targets) this.spent.set(t.name, { apiserver: 0, own: {}, units: 0 });
  }

  /** Runs `work` for `t`, counting the apiserver's CPU and that of `t`'s own processes. */
  async measure<T>(t: Target, work: () => Promise<T>, units: (result: T) => number): Promise<T> {
    const watched: Record<string, number | undefined> = { ...t.processes, apiserver: this.pids.apiserver };
    const { result, cpu } = await cpuDuring(watched, work);
    const s = this.spent.get(t.name);
    if (s) {
      s.apiserver += cpu.apiserver ?? 0;
      for (const name of Object.keys(t.processes)) s.own[name] = (s.own[name] ?? 0) + (cpu[name] ?? 0);
      s.units += units(result);
    }
    return result;
  }

  /** CPU per unit of each of the target's processes, and of all of them together. */
  per(name: string): { apiserver: number; own: Record<string, number>; proxy: number } {
    const s = this.spent.get(name);
    if (!s || s.units <= 0) return { apiserver: NaN, own: {}, proxy: NaN };
    const own = Object.fromEntries(Object.entries(s.own).map(([p, ms]) => [p, ms / s.units]));
    return {
      apiserver: s.apiserver / s.units,
      own,
      proxy: Object.keys(own).length ? Object.values(own).reduce((a, b) => a + b, 0) : NaN,
    };
  }

  rows(caseId: string, caseName: string, unit: string): Row[] {
    const names = [...this.spent.keys()];
    const apiserver = Object.fromEntries(names.map((n) => [n, this.per(n).apiserver]));
    const proxy = Object.fromEntries(
      names.filter((n) => !Number.isNaN(this.per(n).proxy)).map((n) => [n, this.per(n).proxy]),
    );
    const split = (target: string, label: string) =>
      Object.fromEntries(Object.entries(this.per(target).own).map(([p, v]) => [`${label} ${p}`, v]));
    return [
      { case: caseName, metric: `kube-apiserver CPU per ${unit}`, unit: 'ms', values: apiserver },
      { case: caseName, metric: `proxy CPU per ${unit} (all its processes)`, unit: 'ms', values: proxy },
      {
        case: caseName,
        metric: `ztka's own CPU per ${unit} (controller / agent)`,
        unit: 'ms',
        values: split('ztka', 'ztka'),
      },
      {
        case: caseName,
        metric: `remotedialer's own CPU per ${unit} (server / agent)`,
        unit: 'ms',
        values: split('remotedialer', 'remotedialer'),
      },
      ...versusPeer(caseId, caseName, `proxy CPU per ${unit}`, proxy, 'lower'),
      ...versusPeer(caseId, caseName, `kube-apiserver CPU per ${unit}`, apiserver, 'lower'),
    ];
  }
}

/** P4: `kubectl exec … cat` of a large file in a kwok pod: streaming throughput through each path. */
export async function p4(
  env: TestEnv,
  targets: Target[],
  megabytes: number,
  pids: Processes,
): Promise<Row[]> {
  const ns = `bench-exec-${randomBytes(3).toString('hex')}`;
  await env.admin(['create', 'namespace', ns]);
  const box = await podSandbox(env, ns, 'box');
  await fs.writeFile(path.join(box.workDir, 'big.bin'), randomBytes(megabytes * MB));
  await runningPod(env, ns, 'box');
  const speeds: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  const cpu = new CpuTally(pids, targets);
  // The rate is taken from the first byte to the last: kubectl's own start and the GET of the pod before
  // the upgrade are P1's subject, not the stream's.
  const exec = (t: Target) =>
    new Promise<{ bytes: number; mbps: number }>((resolve, reject) => {
      const child = spawn(
        kubectlPath(),
        ['--kubeconfig', t.kubeconfig, '-n', ns, 'exec', 'box', '--', 'cat', 'big.bin'],
        { env: kubectlEnv() },
      );
      let n = 0;
      let first: { at: bigint; bytes: number } | undefined;
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        n += c.length;
        first ??= { at: process.hrtime.bigint(), bytes: c.length };
      });
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('exit', (code) => {
        if (code !== 0 || !first) return reject(new Error(`P4 ${t.name}: ${err}`));
        resolve({ bytes: n, mbps: (n - first.bytes) / MB / (ms(first.at) / 1000) });
      });
    });
  for (let round = 0; round < 3; round++) {
    for (const t of targets) {
      const result = await cpu.measure(
        t,
        () => exec(t),
        (r) => r.bytes / MB,
      );
      if (result.bytes !== megabytes * MB)
        throw new Error(`P4 ${t.name}: got ${result.bytes} bytes of ${megabytes * MB}`);
      speeds[t.name]?.push(result.mbps);
    }
  }
  await env.admin(['delete', 'namespace', ns, '--wait=false']);
  const mbps = Object.fromEntries(targets.map((t) => [t.name, median(speeds[t.name] ?? [])]));
  const ratio = (mbps['ztka'] ?? 0) / (mbps['direct'] ?? 1);
  return [
    {
      case: `P4 exec cat ${megabytes} MB`,
      metric: 'throughput',
      unit: 'MB/s',
      values: mbps,
      ratio,
      goal: '≥ 80% of direct',
      met: ratio >= 0.8,
    },
    ...versusPeer('P4', `P4 exec cat ${megabytes} MB`, 'throughput', mbps, 'higher'),
    ...cpu.rows('P4', `P4 exec cat ${megabytes} MB`, 'MB'),
  ];
}

/**
 * P5: many agents on one controller. Each simulated agent is the real tunnel client (TLS upgraded to
 * HTTP/2, the agent's default transport) answering every request itself, so the controller's side is exactly what real agents cost it.
 */
/**
 * `count` clusters registered through `z`'s API, each with a simulated agent: the agent's own tunnel client
 * (real credential, key proof and HTTP/2), dialling `url`, answering every stream with a small Status. They
 * are not started; `start()` dials them all.
 */
export async function simulatedAgents(
  z: Ztka,
  count: number,
  url: string,
  ca: string,
): Promise<{ prefix: string; clients: TunnelClient[]; start(): Promise<void> }> {
  const log = pino({ level: 'silent' });
  const credentials: { credential: string; privateKey: KeyObject }[] = [];
  const prefix = `sim-${randomBytes(2).toString('hex')}`;
  await z.api('POST', '/v1/projects', { name: 'bench' }); // 201, or 409 when an earlier case made it
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}`;
    const created = await z.api<{ bootstrapToken: { token: string } }>('POST', '/v1/clusters', {
      name,
      project: 'bench',
    });
    const key = generateAgentKey();
    const reg = await z.api<{ credential: string }>(
      'POST',
      '/v1/agents/register',
      {
        token: created.body.bootstrapToken.token,
        identity: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        publicKey: key.publicKey,
      },
      null,
    );
    if (reg.status !== 200) throw new Error(`simulated agent registration ${i}: ${reg.status}`);
    credentials.push({ credential: reg.body.credential, privateKey: createPrivateKey(key.privateKeyPem) });
  }
  const clients = credentials.map(
    ({ credential, privateKey }, i) =>
      new TunnelClient({
        controllerUrl: url,
        ca,
        credential,
        privateKey,
        agentVersion: 'bench',
        kubeVersion: 'v0.0.0',
        clusterIdentity: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        jitNamespace: 'ztka-system',
        log,
        onStream: (stream) => {
          stream.on('error', () => {}); // a stream cut by a closing tunnel is counted by the requester
          // Control streams (the controller's sync on connect) may time out while this process is busy
          // connecting thousands of agents; one already gone needs no answer.
          if (stream.destroyed || stream.closed) return;
          stream.respond({ ':status': 200, 'content-type': 'application/json' });
          stream.end('{"kind":"Status","status":"Success"}');
        },
      }),
  );
  return {
    prefix,
    clients,
    start: async () => {
      for (const c of clients) c.start();
      await Promise.all(clients.map((c) => c.connected));
    },
  };
}

export async function p5(z: Ztka, count: number, controllerPid: number | undefined): Promise<Row[]> {
  const { prefix, clients, start: connectAll } = await simulatedAgents(z, count, z.url, z.ca);
  const before = rss(controllerPid);
  const start = process.hrtime.bigint();
  await connectAll();
  const connectSeconds = ms(start) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  const perAgent = (rss(controllerPid) - before) / count;

  const token = await z.kubeToken();
  const target: Target = {
    name: 'ztka',
    base: '',
    kubeconfig: '',
    processes: { controller: controllerPid },
    options: () => ({ headers: { authorization: `Bearer ${token}` }, ca: z.ca }),
  };
  const latencies: number[] = [];
  let failed = 0;
  for (let i = 0; i < Math.min(500, count * 5); i++) {
    const cluster = `${prefix}-${Math.floor(Math.random() * count)}`;
    const t0 = process.hrtime.bigint();
    const r = await request({ ...target, base: `${z.url}/k8s/clusters/${cluster}` }, '/version');
    if (r.status === 200) latencies.push(ms(t0));
    else failed++;
  }
  const connectedAtEnd = clients.filter((c) => c.isConnected).length;
  clients.forEach((c) => c.stop());
  return [
    {
      case: `P5 ${count} agents`,
      metric: 'time to connect all',
      unit: 's',
      values: { ztka: connectSeconds },
    },
    {
      case: `P5 ${count} agents`,
      metric: 'controller RSS per agent',
      unit: 'KB',
      values: { ztka: perAgent / 1024 },
      goal: '≤ 150 KB',
      met: perAgent / 1024 <= 150,
    },
    {
      case: `P5 ${count} agents`,
      metric: 'p99 request to a random agent',
      unit: 'ms',
      values: { ztka: percentile(latencies, 99) },
    },
    {
      case: `P5 ${count} agents`,
      metric: 'agents still connected / failed requests',
      unit: 'count',
      values: { ztka: connectedAtEnd, 'ztka errors': failed },
      goal: 'all connected, 0 failed',
      met: connectedAtEnd === count && failed === 0,
    },
  ];
}

/**
 * P7: a person's first kubectl call, which makes their just-in-time service account, its binding and a
 * TokenRequest token in the cluster, against their second call, which the agent serves from its cache.
 * Each person is new; the ztka target's connection pool is reused so only the JIT work differs.
 */
export async function p7(z: Ztka, ztka: Target, cluster: string, people: number): Promise<Row[]> {
  const first: number[] = [];
  const cached: number[] = [];
  const tag = randomBytes(2).toString('hex');
  for (let i = 0; i < people; i++) {
    const user = await z.createUser(`p7-${tag}-${i}@example.com`, [
      { role: 'PROJECT_READ_ONLY', project: 'desktop' },
    ]);
    const token = await z.kubeToken(cluster, user.apiKey);
    const base = ztka.options();
    const asUser: Target = {
      ...ztka,
      options: () => ({ ...base, headers: { ...(base.headers ?? {}), authorization: `Bearer ${token}` } }),
    };
    for (const into of [first, cached]) {
      const start = process.hrtime.bigint();
      const r = await request(asUser, '/api/v1/namespaces/default');
      if (r.status !== 200) throw new Error(`P7 ${user.username}: status ${r.status}`);
      into.push(ms(start));
    }
  }
  const firstP50 = percentile(first, 50);
  const row = (metric: string, value: number, extra: Partial<Row> = {}): Row => ({
    case: 'P7 first access of a new user',
    metric,
    unit: 'ms',
    values: { ztka: value },
    ...extra,
  });
  return [
    row('p50 latency, first call (SA + binding + token)', firstP50, {
      goal: '≤ 100 ms',
      met: firstP50 <= 100,
    }),
    row('p99 latency, first call', percentile(first, 99), { note: `${people} new people` }),
    row('p50 latency, second call (cached)', percentile(cached, 50)),
  ];
}

/**
 * P8: kubectl's wall time per call with the exec-credential kubeconfig (kubectl runs `ztka token` first,
 * which answers from its cache) against a kubeconfig that holds its token, interleaved.
 */
export async function p8(z: Ztka, cluster: string, calls: number): Promise<Row[]> {
  const user = await z.createUser(`p8-${randomBytes(2).toString('hex')}@example.com`, [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const cli = await ZtkaCli.create();
  try {
    await cli.ok(
      ['login', '--server', z.url, '--ca-file', z.caFile, '--username', user.username, '--password-stdin'],
      { input: `${user.password}\n` },
    );
    const exec = path.join(cli.home, 'exec.kubeconfig');
    await cli.ok(['kubeconfig', '--cluster', cluster, '--exec', '-f', exec]);
    const embedded = await z.kubeconfig(cluster, user.apiKey);
    const times: Record<'embedded' | 'exec', number[]> = { embedded: [], exec: [] };
    const call = async (kubeconfig: string) => {
      const start = process.hrtime.bigint();
      const out = await kubectl(['get', 'namespace', 'default', '-o', 'name'], { kubeconfig, env: cli.env });
      if (out.stdout.trim() !== 'namespace/default') throw new Error(`P8: kubectl said ${out.stdout}`);
      return ms(start);
    };
    // The first exec call mints and caches the token; both warm up the same way.
    for (let i = 0; i < 2; i++) {
      await call(embedded);
      await call(exec);
    }
    for (let i = 0; i < calls; i++) {
      times.embedded.push(await call(embedded));
      times.exec.push(await call(exec));
    }
    const values = { 'token in kubeconfig': median(times.embedded), 'exec (ztka token)': median(times.exec) };
    const ratio = values['exec (ztka token)'] / values['token in kubeconfig'];
    return [
      {
        case: 'P8 kubectl per call',
        metric: 'median wall time of `kubectl get ns default`',
        unit: 'ms',
        values,
        ratio,
        goal: 'exec ≤ 1.3× embedded token',
        met: ratio <= 1.3,
        note: `${calls} calls each, interleaved`,
      },
    ];
  } finally {
    await cli.remove();
  }
}
