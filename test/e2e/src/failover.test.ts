// Losing a replica, for real: three controller replicas on one PostgreSQL behind haproxy (startReplicas),
// one agent dialling the balancer. kubectl works through every replica's own listener (the peer hop carries
// what the tunnel's holder does not get itself). Then the replica holding the tunnel is killed with SIGKILL,
// three times over, under a stream of kubectl requests through the balancer: each time the agent is back
// on another replica within 5 s, an open watch and an exec session end rather than hang, and kubectl (which retries a 503 with
// Retry-After by itself) sees at most one failed request. Then a rolling restart of all three, one at a
// time, under the same load, fails no request. The audit chain verifies after all of it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPostgres } from '@ztka/controller/store/postgres';
import {
  kubectl,
  kubectlPath,
  namespace,
  podSandbox,
  runningPod,
  startReplicas,
  testEnv,
  type ReplicaSet,
  type TestEnv,
  type TestNamespace,
  type Ztka,
} from '@ztka/testenv';
import { kubeconfigVia } from './support/replicas.js';

const CLUSTER = 'failover';
let env: TestEnv;
let set: ReplicaSet;
let first: Ztka;

let ns: TestNamespace;

before(async () => {
  env = await testEnv();
  // A pod whose commands run in a sandbox on this host (kwok): an exec session to hold open through a kill.
  ns = await namespace(env, 'failover');
  await podSandbox(env, ns.name, 'box');
  await runningPod(env, ns.name, 'box');
  // A stopping replica keeps serving while the balancer's checks (every 0.5 s) mark it down.
  set = await startReplicas({ count: 3, env: { ZTKA_SHUTDOWN_DELAY_SECONDS: '2' } });
  first = set.replicas[0] as Ztka;
  await first.connectCluster(CLUSTER, env.kubeconfig, CLUSTER);
});
after(async () => {
  await set?.stop();
  await ns?.cleanup();
});

/** kubectl requests through the balancer, one after another, until stopped; what became of each. */
function steadyLoad(kubeconfig: string) {
  let loading = true;
  const outcomes: { start: number; at: number; ok: boolean; error?: string }[] = [];
  const done = (async () => {
    while (loading) {
      const start = Date.now();
      try {
        await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig, timeoutMs: 20_000 });
        outcomes.push({ start, at: Date.now(), ok: true });
      } catch (err) {
        outcomes.push({ start, at: Date.now(), ok: false, error: (err as Error).message.slice(0, 300) });
      }
    }
  })();
  return {
    outcomes,
    stop: async () => {
      loading = false;
      await done;
      return outcomes;
    },
  };
}

/** The replica holding the cluster's tunnel, by the store. */
async function holder(): Promise<number | undefined> {
  const db = openPostgres(set.postgres.url);
  try {
    const row = await db
      .selectFrom('tunnel_locations as l')
      .innerJoin('controller_replicas as r', 'r.id', 'l.replica_id')
      .select('r.peer_url')
      .executeTakeFirst();
    return row?.peer_url ? set.replicaAt(row.peer_url) : undefined;
  } finally {
    await db.destroy();
  }
}

test('kubectl works through every replica, whichever holds the tunnel', async (t) => {
  for (const [i, replica] of set.replicas.entries()) {
    const kubeconfig = await kubeconfigVia(first, replica, CLUSTER, first.adminKey);
    const started = Date.now();
    const { stdout } = await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig });
    assert.equal(stdout.trim(), 'namespace/default');
    t.diagnostic(`replica ${i}: ${Date.now() - started} ms`);
  }
});

test('killing the replica that holds the tunnel, three times under load: back within 5 s, at most one failed request', async (t) => {
  const kubeconfig = await first.kubeconfig(CLUSTER);
  for (let round = 0; round < 3; round++) {
    const victim = await holder();
    assert.notEqual(victim, undefined, 'the store names a live replica holding the tunnel');
    const doomed = set.replicas[victim ?? 0] as Ztka;

    // A watch through the balancer, and a steady stream of requests.
    const watch = spawn(kubectlPath(), ['--kubeconfig', kubeconfig, 'get', 'ns', '--watch'], {
      stdio: 'ignore',
    });
    const watchEnded = new Promise<void>((resolve) => watch.once('exit', () => resolve()));
    // And an exec session that would run for a minute.
    const exec = spawn(
      kubectlPath(),
      ['--kubeconfig', kubeconfig, '-n', ns.name, 'exec', 'box', '--', 'sh', '-c', 'echo started; sleep 60'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const execEnded = new Promise<void>((resolve) => exec.once('exit', () => resolve()));
    await new Promise<void>((resolve) => exec.stdout.once('data', () => resolve()));
    const load = steadyLoad(kubeconfig);
    const outcomes = load.outcomes;
    await sleep(1500);

    const killed = Date.now();
    await doomed.killController();
    // Back when a request started after the kill succeeds through the balancer.
    let back = 0;
    while (!back) {
      assert.ok(Date.now() - killed < 30_000, 'the cluster is served again');
      const later = outcomes.find((o) => o.ok && o.at > killed + 50);
      if (later) back = later.at;
      else await sleep(50);
    }
    await sleep(2000);
    await load.stop();

    const failed = outcomes.filter((o) => !o.ok);
    t.diagnostic(
      `round ${round}: replica ${victim} killed; served again after ${back - killed} ms; ` +
        `${failed.length} of ${outcomes.length} requests failed`,
    );
    assert.ok(back - killed < 5000, `round ${round}: served again ${back - killed} ms after the kill`);
    assert.ok(failed.length <= 1, `round ${round}: ${failed.length} failed: ${JSON.stringify(failed)}`);
    const moved = await holder();
    assert.ok(moved !== undefined && moved !== victim, `round ${round}: the tunnel moved (${moved})`);
    await Promise.race([
      watchEnded,
      sleep(10_000).then(() => assert.fail(`round ${round}: the watch hung after the kill`)),
    ]);
    watch.kill();
    // The exec's stream crossed the killed replica (its tunnel, or its own connection): it ends, not hangs.
    await Promise.race([
      execEnded,
      sleep(10_000).then(() => assert.fail(`round ${round}: the exec session hung after the kill`)),
    ]);
    exec.kill();

    await doomed.restartController();
    await set.haproxy.waitFor(set.backend(victim ?? 0), 'UP', 15_000);
  }

  const verified = await first.api<{ ok: boolean }>('GET', '/v1/audit/verify');
  assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
});

test('a rolling restart of every replica, one at a time, under load: no request fails', async (t) => {
  const kubeconfig = await first.kubeconfig(CLUSTER);
  const load = steadyLoad(kubeconfig);
  for (const [i, replica] of set.replicas.entries()) {
    // SIGTERM: /readyz turns 503, the balancer stops sending it connections, it drains and stops.
    await replica.restartController();
    await set.haproxy.waitFor(set.backend(i), 'UP', 15_000);
    await sleep(1000);
  }
  const outcomes = await load.stop();
  const failed = outcomes.filter((o) => !o.ok);
  t.diagnostic(`${failed.length} of ${outcomes.length} requests failed`);
  assert.ok(outcomes.length > 10, 'the load ran throughout');
  assert.deepEqual(failed, []);
  const verified = await first.api<{ ok: boolean }>('GET', '/v1/audit/verify');
  assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
});
