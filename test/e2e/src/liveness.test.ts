// What ends an open stream, against the real controller and agent with the controller's default keepalive:
// a watch and an exec end when the credential that opened them expires, and an agent that stops answering
// (frozen with SIGSTOP, as a hung process or a black-holed link would leave it) fails its requests within
// seconds, with a Status, and ends its watches — then serves again once it runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  kubectl,
  namespace,
  podSandbox,
  runningPod,
  startKubectl,
  testEnv,
  waitForOutput,
  Ztka,
  type TestEnv,
} from '@ztka/testenv';

const CLUSTER = 'desktop';
/** The lifetime of kube tokens from /v1/tokens on this controller. */
const KUBE_TOKEN_TTL_S = 5;
let env: TestEnv;
let z: Ztka;
let kubeconfig: string;

before(async () => {
  env = await testEnv();
  // null: the controller's own keepalive, which is what these tests are about.
  z = await Ztka.start({
    agentPingIntervalMs: null,
    env: { ZTKA_KUBE_TOKEN_TTL_SECONDS: String(KUBE_TOKEN_TTL_S) },
  });
  await z.connectCluster(CLUSTER, env.kubeconfig);
  kubeconfig = await z.kubeconfig(CLUSTER);
});
after(() => z?.stop());

interface Status {
  kind: string;
  code: number;
  reason: string;
  message: string;
}

/** A GET through the proxy; resolves with the answer and when it completed. */
function kubeGet(token: string, uri: string): Promise<{ status: number; body: Status; at: number }> {
  return new Promise((resolve, reject) => {
    https
      .get(
        `${z.url}/k8s/clusters/${CLUSTER}${uri}`,
        { ca: z.ca, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Status, at: Date.now() }),
          );
        },
      )
      .on('error', reject);
  });
}

/** Opens a watch and resolves, once it has ended, with when it ended and what it had delivered. */
async function watch(token: string, uri: string): Promise<{ ended: Promise<{ at: number; text: string }> }> {
  return new Promise((resolve, reject) => {
    https
      .get(
        `${z.url}/k8s/clusters/${CLUSTER}${uri}`,
        { ca: z.ca, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`the watch got ${res.statusCode}`));
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          const ended = new Promise<{ at: number; text: string }>((done) =>
            res.on('close', () => done({ at: Date.now(), text })),
          );
          resolve({ ended });
        },
      )
      .on('error', reject);
  });
}

/** Resolves with when the child exits, or Infinity after `ms`. */
function exitWithin(child: { on(e: 'exit', f: () => void): unknown }, ms: number): Promise<number> {
  return Promise.race([
    new Promise<number>((r) => child.on('exit', () => r(Date.now()))),
    sleep(ms).then(() => Infinity),
  ]);
}

test('a watch and an exec opened with a short-lived kube token end when it expires', async () => {
  const ns = await namespace(env, 'expiry');
  try {
    await podSandbox(env, ns.name, 'box');
    await runningPod(env, ns.name, 'box');
    const issued = await z.api<{ token: string; expiresAt: string }>('POST', '/v1/tokens', {
      cluster: CLUSTER,
    });
    assert.equal(issued.status, 200);
    const { token } = issued.body;
    const expiresAt = Date.parse(issued.body.expiresAt);
    assert.ok(expiresAt - Date.now() <= KUBE_TOKEN_TTL_S * 1000);

    const watched = await watch(token, `/api/v1/namespaces/${ns.name}/configmaps?watch=1`);
    // kubectl exec with that token: `cat` echoes what it is sent for as long as the session lasts.
    const tokenKubeconfig = `${kubeconfig}.short-lived`;
    await fs.writeFile(
      tokenKubeconfig,
      (await fs.readFile(kubeconfig, 'utf8')).replace(/token: \S+/, `token: ${token}`),
      { mode: 0o600 },
    );
    const exec = startKubectl(['-n', ns.name, 'exec', '-i', 'box', '--', 'cat'], {
      kubeconfig: tokenKubeconfig,
      version: '1.33',
    });
    exec.stdin.write('still open\n');
    await waitForOutput(exec, /still open/, 10_000);
    assert.ok(Date.now() < expiresAt, 'the test was too slow to open both before the token expired');

    const [watchEnd, execEnd] = await Promise.all([
      Promise.race([
        watched.ended.then((e) => e.at),
        sleep(expiresAt - Date.now() + 10_000).then(() => Infinity),
      ]),
      exitWithin(exec, expiresAt - Date.now() + 10_000),
    ]);
    exec.kill();
    for (const [what, at] of [
      ['watch', watchEnd],
      ['exec', execEnd],
    ] as const) {
      assert.ok(at >= expiresAt, `the ${what} ended ${expiresAt - at} ms before its credential expired`);
      assert.ok(at - expiresAt < 2000, `the ${what} outlived its credential by ${at - expiresAt} ms`);
    }
    assert.notEqual(exec.exitCode, 0, 'kubectl exec reported success');

    // The trail says why both ended.
    const records = await z.api<{
      items: { stage: string; reason?: string; objectRef?: { subresource?: string; resource?: string } }[];
    }>('GET', '/v1/audit/api?limit=50');
    const expired = records.body.items.filter(
      (r) => r.stage === 'ResponseComplete' && r.reason === 'the credential that opened it expired',
    );
    assert.deepEqual(expired.map((r) => r.objectRef?.subresource ?? r.objectRef?.resource).sort(), [
      'configmaps',
      'exec',
    ]);
  } finally {
    await ns.cleanup();
  }
});

test('a frozen agent: requests in flight get a Status within 10 s, a watch ends, and it serves again once thawed', async () => {
  const token = await z.kubeToken(CLUSTER);
  // With discovery cached, kubectl's watch is the only request it has in flight.
  await kubectl(['get', 'ns'], { kubeconfig, version: '1.33' });
  const kubectlWatch = startKubectl(['get', 'ns', '-w', '-o', 'name'], { kubeconfig, version: '1.33' });
  await waitForOutput(kubectlWatch, /namespace\/default/);
  const watchExit = exitWithin(kubectlWatch, 15_000);
  const rawWatch = await watch(token, '/api/v1/namespaces?watch=1');

  z.freezeAgent(CLUSTER);
  const frozenAt = Date.now();
  try {
    const answer = await kubeGet(token, '/api/v1/namespaces');
    // In flight down the frozen tunnel, it fails when the tunnel is found dead (503 only if that happened
    // in the moment before it arrived); an error Status either way, never a hang.
    assert.equal(answer.body.kind, 'Status');
    assert.ok([502, 503].includes(answer.status), `status ${answer.status}: ${answer.body.message}`);
    assert.match(answer.body.message, /tunnel to cluster desktop closed|cluster desktop is not connected/);
    assert.ok(answer.at - frozenAt < 10_000, `the request waited ${answer.at - frozenAt} ms`);

    const rawEnd = await Promise.race([rawWatch.ended.then((e) => e.at), sleep(15_000).then(() => Infinity)]);
    assert.ok(rawEnd - frozenAt < 10_000, `the watch outlived its tunnel by ${rawEnd - frozenAt} ms`);
    const kubectlEnd = await watchExit;
    assert.ok(
      kubectlEnd - frozenAt < 10_000,
      `kubectl's watch outlived its tunnel by ${kubectlEnd - frozenAt} ms`,
    );

    // From now on a request is refused at once.
    await z.waitForConnected(CLUSTER, false, 2000);
    const refused = await kubeGet(token, '/api/v1/namespaces');
    assert.equal(refused.status, 503);
    console.error(`liveness: the frozen tunnel failed its request after ${answer.at - frozenAt} ms`);
  } finally {
    z.thawAgent(CLUSTER);
    kubectlWatch.kill();
  }
  // Thawed, the agent finds its old tunnel gone and dials again (at the latest when its own keepalive, 45 s
  // without a ping, gives up on it).
  await z.waitForConnected(CLUSTER, true, 60_000);
  const { stdout } = await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig, version: '1.33' });
  assert.equal(stdout.trim(), 'namespace/default');
});
