// P9: several controller replicas on one PostgreSQL behind haproxy (testenv's startReplicas, as a deployment
// runs them), with 1, 2 and 3 replicas in turn: requests per second through the balancer and the replicas'
// CPU per request; with 3, what the peer hop costs (a replica that holds the tunnel against one that must
// carry the request to it), how simulated agents spread over the replicas, each replica's memory per agent
// and the PostgreSQL connections the replicas hold.
import https from 'node:https';
import { openPostgres } from '@ztka/controller/store/postgres';
import { startReplicas, type ReplicaSet, type TestEnv, type Ztka } from '@ztka/testenv';
import { simulatedAgents, type Row } from './cases.js';
import { cpuMs, median, rss } from './stats.js';
import { request, type Target } from './targets.js';

export interface ReplicaSizes {
  seconds: number;
  clients: number;
  agents: number;
}

const CLUSTER = 'bench';
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

function target(base: string, ca: string, token: string, clients: number): Target {
  const agent = new https.Agent({ keepAlive: true, maxSockets: clients });
  return {
    name: 'ztka',
    base: `${base}/k8s/clusters/${CLUSTER}`,
    kubeconfig: '',
    processes: {},
    options: () => ({ agent, ca, headers: { authorization: `Bearer ${token}` } }),
  };
}

/** Requests per second of small GETs with `clients` at once, for `seconds`, and the CPU `pids` spent. */
async function throughput(t: Target, clients: number, seconds: number, pids: (number | undefined)[]) {
  const burst = async (forMs: number) => {
    let done = 0;
    let failed = 0;
    const deadline = Date.now() + forMs;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (Date.now() < deadline) {
          const r = await request(t, '/api/v1/namespaces/default').catch(() => ({ status: 0 }));
          if (r.status === 200) done++;
          else failed++;
        }
      }),
    );
    return { done, failed };
  };
  await burst(1000); // pools filled, handshakes done
  const cpuBefore = pids.map(cpuMs);
  const start = process.hrtime.bigint();
  const { done, failed } = await burst(seconds * 1000);
  const elapsed = ms(start) / 1000;
  const cpu = pids.reduce<number>((sum, pid, i) => sum + cpuMs(pid) - (cpuBefore[i] ?? 0), 0);
  return { rate: done / elapsed, cpuPerRequest: cpu / Math.max(1, done), failed };
}

/** Sequential GETs' median latency. */
async function latency(t: Target, n: number): Promise<number> {
  await request(t, '/api/v1/namespaces/default');
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await request(t, '/api/v1/namespaces/default');
    samples.push(ms(start));
  }
  return median(samples);
}

/** Which replica of `set` holds the cluster's tunnel, by the store. */
async function holderOf(set: ReplicaSet, cluster: string): Promise<number> {
  const db = openPostgres(set.postgres.url);
  try {
    const row = await db
      .selectFrom('tunnel_locations as l')
      .innerJoin('clusters as c', 'c.id', 'l.cluster_id')
      .innerJoin('controller_replicas as r', 'r.id', 'l.replica_id')
      .select('r.peer_url')
      .where('c.name', '=', cluster)
      .executeTakeFirstOrThrow();
    const at = row.peer_url ? await set.replicaAt(row.peer_url) : undefined;
    if (at === undefined) throw new Error(`P9: no replica holds cluster ${cluster}`);
    return at;
  } finally {
    await db.destroy();
  }
}

/** The replicas' spread of `prefix`'s simulated agents, and the database's connections. */
async function spread(set: ReplicaSet, prefix: string) {
  const db = openPostgres(set.postgres.url);
  try {
    const perReplica = await db
      .selectFrom('tunnel_locations as l')
      .innerJoin('clusters as c', 'c.id', 'l.cluster_id')
      .select(['l.replica_id', db.fn.countAll<string>().as('n')])
      .where('c.name', 'like', `${prefix}-%`)
      .groupBy('l.replica_id')
      .execute();
    const activity = db.withTables<{ pg_stat_activity: { datname: string } }>();
    const connections = await activity
      .selectFrom('pg_stat_activity')
      .select(activity.fn.countAll<string>().as('n'))
      .where('datname', '=', new URL(set.postgres.url).pathname.slice(1))
      .executeTakeFirst();
    return { counts: perReplica.map((r) => Number(r.n)), connections: Number(connections?.n ?? 0) };
  } finally {
    await db.destroy();
  }
}

export async function p9(env: TestEnv, sizes: ReplicaSizes, say: (line: string) => void): Promise<Row[]> {
  const rates: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const rows: Row[] = [];
  for (const count of [1, 2, 3]) {
    say(`P9: ${count} replica(s) behind haproxy`);
    const set = await startReplicas({
      count,
      // As P3: one person sending as fast as the machine allows, with production keepalives.
      env: { ZTKA_RATE_LIMIT_PER_PERSON: '0', ZTKA_AGENT_PING_INTERVAL_MS: '15000' },
    });
    try {
      const first = set.replicas[0] as Ztka;
      await first.connectCluster(CLUSTER, env.kubeconfig, CLUSTER);
      const token = await first.kubeToken(CLUSTER);
      const pids = [...set.replicas.map((r) => r.controllerPid), first.pids().agents[CLUSTER]];
      const lb = await throughput(
        target(set.url, set.ca, token, sizes.clients),
        sizes.clients,
        sizes.seconds,
        pids,
      );
      rates[`${count} replica${count > 1 ? 's' : ''}`] = lb.rate;
      cpu[`${count} replica${count > 1 ? 's' : ''}`] = lb.cpuPerRequest;
      failures[`${count} replica${count > 1 ? 's' : ''}`] = lb.failed;
      if (count === 3) {
        rows.push(...(await peerHop(set, token, sizes, await holderOf(set, CLUSTER))));
        rows.push(...(await agentsSpread(set, first, sizes.agents)));
      }
    } finally {
      await set.stop();
    }
  }
  rows.unshift(
    {
      case: `P9 ${sizes.clients} clients through haproxy`,
      metric: 'requests/s',
      unit: 'req/s',
      values: rates,
      note: 'one machine of 2 cores: replicas share its CPU, so this shows the cost of spreading, not capacity',
    },
    {
      case: `P9 ${sizes.clients} clients through haproxy`,
      metric: 'CPU per request (replicas + agent)',
      unit: 'ms',
      values: cpu,
    },
    {
      case: `P9 ${sizes.clients} clients through haproxy`,
      metric: 'failed requests',
      unit: 'count',
      values: failures,
      goal: '0',
      met: Object.values(failures).every((n) => n === 0),
    },
  );
  return rows;
}

/** The same requests through the replica holding the tunnel and through one that carries them there. */
async function peerHop(set: ReplicaSet, token: string, sizes: ReplicaSizes, at: number): Promise<Row[]> {
  const other = set.replicas.findIndex((_, i) => i !== at);
  const local = target((set.replicas[at] as Ztka).listenUrl, set.ca, token, sizes.clients);
  const peer = target((set.replicas[other] as Ztka).listenUrl, set.ca, token, sizes.clients);
  const pids = [...set.replicas.map((r) => r.controllerPid)];
  const viaHolder = await throughput(local, sizes.clients, sizes.seconds, pids);
  const viaPeer = await throughput(peer, sizes.clients, sizes.seconds, pids);
  const p50Holder = await latency(local, 300);
  const p50Peer = await latency(peer, 300);
  return [
    {
      case: 'P9 the peer hop (3 replicas)',
      metric: 'requests/s',
      unit: 'req/s',
      values: { 'at the holder': viaHolder.rate, 'through a peer': viaPeer.rate },
      ratio: viaPeer.rate / viaHolder.rate,
    },
    {
      case: 'P9 the peer hop (3 replicas)',
      metric: 'replicas CPU per request',
      unit: 'ms',
      values: { 'at the holder': viaHolder.cpuPerRequest, 'through a peer': viaPeer.cpuPerRequest },
    },
    {
      case: 'P9 the peer hop (3 replicas)',
      metric: 'p50 sequential GET',
      unit: 'ms',
      values: { 'at the holder': p50Holder, 'through a peer': p50Peer },
    },
  ];
}

/** Simulated agents dialling the balancer: how they spread, memory per agent, database connections. */
async function agentsSpread(set: ReplicaSet, first: Ztka, agents: number): Promise<Row[]> {
  const sim = await simulatedAgents(first, agents, set.url, set.ca);
  const before = set.replicas.map((r) => rss(r.controllerPid));
  await sim.start();
  await new Promise((r) => setTimeout(r, 2000));
  const grown = set.replicas.reduce((sum, r, i) => sum + rss(r.controllerPid) - (before[i] ?? 0), 0);
  const { counts, connections } = await spread(set, sim.prefix);
  for (const c of sim.clients) c.stop();
  return [
    {
      case: `P9 ${agents} agents through haproxy (3 replicas)`,
      metric: 'agents per replica, fewest / most',
      unit: 'count',
      values: { fewest: Math.min(...counts), most: Math.max(...counts) },
    },
    {
      case: `P9 ${agents} agents through haproxy (3 replicas)`,
      metric: 'replica RSS per agent',
      unit: 'KB',
      values: { ztka: grown / agents / 1024 },
    },
    {
      case: `P9 ${agents} agents through haproxy (3 replicas)`,
      metric: 'PostgreSQL connections of the replicas',
      unit: 'count',
      values: { ztka: connections },
    },
  ];
}
