// kubectl through the real controller and a real agent: the shared kubectl suite over the tunnel with four
// kubectl releases, then the tunnel's own promises — status, faults and bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { generateAgentKey } from '@ztka/protocol';
import type { KubectlError } from '@ztka/testenv';
import { kubectl, startKubectl, testEnv, waitForOutput, type TestEnv } from '@ztka/testenv';
import { dialAgentEndpoint } from './support/agent-dial.js';
import { kubectlSuite } from './support/kubectl-suite.js';
import { Ztka } from '@ztka/testenv';

const CLUSTER = 'desktop';
const METRICS_TOKEN = randomBytes(32).toString('hex');
let started: Promise<Ztka> | undefined;

/** One controller and one agent for the whole file, started on first use. */
function ztkaFor(env: TestEnv): Promise<Ztka> {
  started ??= (async () => {
    const z = await Ztka.start({ metricsToken: METRICS_TOKEN });
    await z.connectCluster(CLUSTER, env.kubeconfig);
    return z;
  })();
  return started;
}

after(async () => {
  if (started) await (await started).stop();
});

kubectlSuite('through ztka', ['1.27', '1.30', '1.31', '1.33'], async (env) => {
  const z = await ztkaFor(env);
  return { kubeconfig: await z.kubeconfig(CLUSTER), prefix: 'tun' };
});

// The same bar for the two fallbacks, in one agent: the WebSocket transport (for egress proxies that pass
// nothing else) and HTTP/1.1 to the apiserver (for a proxy in front of it that mishandles HTTP/2).
const WS_CLUSTER = 'desktop-ws';
let wsCluster: Promise<void> | undefined;
kubectlSuite('through ztka over WebSocket, HTTP/1.1 to the apiserver', ['1.33'], async (env) => {
  const z = await ztkaFor(env);
  wsCluster ??= z.connectCluster(WS_CLUSTER, env.kubeconfig, 'desktop', {
    transport: 'websocket',
    apiserverHttp1: true,
  });
  await wsCluster;
  return { kubeconfig: await z.kubeconfig(WS_CLUSTER), prefix: 'tws' };
});

interface Status {
  kind: string;
  code: number;
  reason: string;
  message: string;
}

describe('the tunnel and the proxy', () => {
  let env: TestEnv;
  let z: Ztka;
  let kubeconfig: string;

  before(async () => {
    env = await testEnv();
    z = await ztkaFor(env);
    kubeconfig = await z.kubeconfig(CLUSTER);
  });

  test('the cluster shows as connected with its versions', async () => {
    const res = await z.api<{
      connected: boolean;
      kubeVersion: string;
      agentVersion: string;
      lastSeenAt: string;
    }>('GET', `/v1/clusters/${CLUSTER}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.connected, true);
    assert.match(res.body.kubeVersion, /^v1\.34\./);
    assert.match(res.body.agentVersion, /^\d+\.\d+\.\d+/);
  });

  test('an unknown cluster is a 404 Status, a missing or wrong credential a 401', async () => {
    const kubeToken = await z.kubeToken();
    const unknown = await z.api<Status>(
      'GET',
      '/k8s/clusters/nowhere/api/v1/namespaces',
      undefined,
      kubeToken,
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.kind, 'Status');
    assert.match(unknown.body.message, /unknown cluster "nowhere"/);

    // An API key (z.adminKey) is a credential for the REST API only: it never reaches a cluster.
    for (const token of [null, 'ztka_admin_wrong', 'x'.repeat(600), z.adminKey]) {
      const res = await z.api<Status>('GET', `/k8s/clusters/${CLUSTER}/api/v1/namespaces`, undefined, token);
      assert.equal(res.status, 401, `token ${String(token).slice(0, 20)}`);
      assert.equal(res.body.reason, 'Unauthorized');
    }
    // Without a credential, an existing cluster and a missing one look the same.
    const hidden = await z.api<Status>('GET', '/k8s/clusters/nowhere/api/v1/namespaces', undefined, null);
    assert.equal(hidden.status, 401);
  });

  test('kubectl --as gains nothing: impersonation headers never reach the cluster', async () => {
    const whoami = async (extra: string[]) =>
      (
        await kubectl([...extra, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], {
          kubeconfig,
          version: '1.33',
        })
      ).stdout;
    const plain = await whoami([]);
    assert.equal(await whoami(['--as=system:kube-scheduler']), plain);
    assert.equal(await whoami(['--as=someone', '--as-group=system:masters']), plain);
  });

  test('oversized request headers get 431 and the controller keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(
          `${z.url}/k8s/clusters/${CLUSTER}/api/v1/namespaces`,
          { ca: z.ca, headers: { 'x-big': 'a'.repeat(100_000) } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on('error', reject);
    });
    assert.equal(status, 431);
    const { stdout } = await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig, version: '1.33' });
    assert.equal(stdout.trim(), 'namespace/default');
  });

  test('the agent endpoint refuses a missing or wrong agent credential', async () => {
    for (const headers of [{}, { authorization: 'Bearer ztka_nope.nope' }]) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${z.url.replace('https', 'wss')}/v1/agents/connect`, { ca: z.ca, headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      });
      assert.equal(status, 401);
    }
    // The same for the HTTP/2 upgrade, and an Upgrade token the endpoint does not know is a 400.
    const upgrade = (headers: Record<string, string>) => dialAgentEndpoint(z, headers);
    assert.equal(await upgrade({ upgrade: 'ztka-tunnel-h2' }), 401);
    assert.equal(await upgrade({ upgrade: 'ztka-tunnel-h2', authorization: 'Bearer ztka_nope.nope' }), 401);
    assert.equal(await upgrade({ upgrade: 'h2c', authorization: 'Bearer ztka_nope.nope' }), 400);
  });

  test('a used or malformed bootstrap token is refused', async () => {
    const created = await z.api<{ bootstrapToken: { token: string } }>('POST', '/v1/clusters', {
      name: 'laptop',
      project: 'desktop',
    });
    assert.equal(created.status, 201);
    const token = created.body.bootstrapToken.token;
    const { publicKey } = generateAgentKey();
    const first = await z.api(
      'POST',
      '/v1/agents/register',
      { token, identity: 'c0ffee00-0000-4000-8000-000000000001', publicKey },
      null,
    );
    assert.equal(first.status, 200);
    const replay = await z.api<{ message: string }>(
      'POST',
      '/v1/agents/register',
      { token, identity: 'c0ffee00-0000-4000-8000-000000000001', publicKey },
      null,
    );
    assert.equal(replay.status, 401);
    assert.match(replay.body.message, /invalid, expired or already used/);
    const junk = await z.api(
      'POST',
      '/v1/agents/register',
      { token: 'garbage', identity: 'x', publicKey },
      null,
    );
    assert.equal(junk.status, 401);
    const missing = await z.api<{ message: string }>('POST', '/v1/agents/register', { identity: 'x' }, null);
    assert.equal(missing.status, 400);
    assert.match(missing.body.message, /token/);
  });

  test('/healthz, /readyz and /metrics report the controller and its tunnels', async () => {
    assert.equal((await z.api('GET', '/healthz', undefined, null)).status, 200);
    assert.equal((await z.api('GET', '/readyz', undefined, null)).status, 200);
    await kubectl(['get', 'ns'], { kubeconfig, version: '1.33' });
    await kubectl(['get', 'ns', 'default'], { kubeconfig, version: '1.33' });
    // Cluster names and volumes are for the scraper that holds the metrics token (listener.test.ts).
    assert.equal((await z.api('GET', '/metrics', undefined, null)).status, 401);
    const metrics = await z.api<string>('GET', '/metrics', undefined, METRICS_TOKEN);
    assert.equal(metrics.status, 200);
    // This file's agents: `desktop`, and `desktop-ws` once the WebSocket suite has run.
    const clusters = await z.api<{ items: { connected?: boolean }[] }>('GET', '/v1/clusters?limit=100');
    const connected = clusters.body.items.filter((c) => c.connected).length;
    assert.ok(connected >= 1);
    assert.match(metrics.body, new RegExp(`^ztka_connected_agents ${connected}$`, 'm'));
    assert.match(
      metrics.body,
      /^ztka_proxy_requests_total\{cluster="desktop",verb="get",code="200"\} [1-9]\d*$/m,
    );
    assert.match(metrics.body, /^ztka_proxy_response_bytes_total\{cluster="desktop"\} [1-9]\d*$/m);
    assert.match(
      metrics.body,
      /^ztka_proxy_request_duration_seconds_bucket\{le="0\.1",cluster="desktop",verb="list"\} \d+$/m,
    );
  });

  test('a watch stays open for over a minute and keeps delivering events', { timeout: 120_000 }, async () => {
    const ns = `watch-${Date.now().toString(36)}`;
    await env.admin(['create', 'namespace', ns]);
    const watch = startKubectl(['-n', ns, 'get', 'configmaps', '-w', '-o', 'name'], {
      kubeconfig,
      version: '1.33',
    });
    try {
      await waitForOutput(watch, /configmap\/kube-root-ca\.crt/);
      const opened = Date.now();
      for (const at of [5_000, 35_000, 65_000]) {
        await sleep(Math.max(0, opened + at - Date.now()));
        await env.admin(['create', 'configmap', `at-${at / 1000}s`, '-n', ns]);
        await waitForOutput(watch, new RegExp(`configmap/at-${at / 1000}s`), 10_000);
      }
      assert.ok(Date.now() - opened >= 60_000);
      assert.equal(watch.exitCode, null, 'the watch ended early');
    } finally {
      watch.kill();
      await env.admin(['delete', 'namespace', ns, '--wait=false']);
    }
  });

  test('a cut tunnel ends open requests promptly; the agent comes back and serves again', async () => {
    // With discovery cached (as after any earlier command) kubectl prints the controller's own message for
    // the request itself; a cold discovery would hide it behind a generic one.
    await kubectl(['get', 'ns'], { kubeconfig, version: '1.33' });
    const watch = startKubectl(['get', 'ns', '-w', '-o', 'name'], { kubeconfig, version: '1.33' });
    await waitForOutput(watch, /namespace\/default/);
    const ended = new Promise<number>((resolve) => watch.on('exit', () => resolve(Date.now())));

    const cutAt = Date.now();
    await z.stopAgent(CLUSTER);
    await z.waitForConnected(CLUSTER, false, 2000);
    const endedAt = await Promise.race([ended, sleep(10_000).then(() => Infinity)]);
    watch.kill();
    assert.ok(endedAt - cutAt < 10_000, 'the watch outlived its tunnel');

    await assert.rejects(kubectl(['get', 'ns'], { kubeconfig, version: '1.33' }), (err: KubectlError) => {
      assert.match(err.stderr, /cluster desktop is not connected/);
      return true;
    });

    // The agent kept its credential from the first registration: no bootstrap token is needed now.
    await z.startAgent(CLUSTER, env.kubeconfig);
    await z.waitForConnected(CLUSTER, true, 10_000);
    const { stdout } = await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig, version: '1.33' });
    assert.equal(stdout.trim(), 'namespace/default');
  });

  test('after a controller restart the agent reconnects by itself', async () => {
    await z.restartController();
    await z.waitForConnected(CLUSTER, true, 20_000);
    const { stdout } = await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig, version: '1.33' });
    assert.equal(stdout.trim(), 'namespace/default');
  });
});
