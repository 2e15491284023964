// Any replica serves any cluster: two controller replicas on one real PostgreSQL, each with a peer listener;
// the cluster's agent holds its tunnel on replica B, and kubectl goes through replica A. A authenticates,
// authorizes and records each request once, then carries it over the peer hop (HTTP/2 over mutual TLS
// among replicas) to B, which splices it onto the tunnel. The whole kubectl suite (reads, writes, watches,
// exec, attach, logs -f, port-forward, cp) runs that way. Then what the hop must refuse, and the contest
// for a cluster across replicas.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import {
  AGENT_PROOF_HEADER,
  CLUSTER_IDENTITY_HEADER,
  JIT_NAMESPACE_HEADER,
  agentCredentialId,
  signAgentProof,
} from '@ztka/protocol';
import { openPostgres } from '@ztka/controller/store/postgres';
import { kubectl, startPostgres, testEnv, Ztka, type PostgresServer, type TestEnv } from '@ztka/testenv';
import { kubectlSuite } from './support/kubectl-suite.js';
import { dialAgentEndpoint } from './support/agent-dial.js';
import { kubeconfigVia } from './support/replicas.js';

const CLUSTER = 'peered';
/** Replicas share one secrets key (the replicas' CA is sealed with it) and each listens for peers. */
const PEER: Record<string, string> = { ZTKA_PEER_LISTEN: '127.0.0.1:0' };
let env: TestEnv;
let pg: PostgresServer;
let a: Ztka;
let b: Ztka;
let started: Promise<void> | undefined;

/** Replica A and B, the cluster's agent on B; started once, by the suite or the tests below. */
function replicas(): Promise<void> {
  started ??= (async () => {
    env = await testEnv();
    pg = await startPostgres();
    const keyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-peering-'));
    PEER['ZTKA_SECRETS_KEY_FILE'] = path.join(keyDir, 'secrets.key');
    await fs.writeFile(PEER['ZTKA_SECRETS_KEY_FILE'], `${randomBytes(32).toString('base64')}\n`, {
      mode: 0o600,
    });
    a = await Ztka.start({ env: { ZTKA_DATABASE: pg.url, ...PEER } });
    b = await Ztka.start({ env: { ZTKA_DATABASE: pg.url, ...PEER }, adminPassword: a.adminPassword });
    await b.connectCluster(CLUSTER, env.kubeconfig, CLUSTER);
  })();
  return started;
}

before(replicas);
after(async () => {
  await b?.stop();
  await a?.stop();
  await pg?.stop();
});

kubectlSuite('through replica A to the tunnel held by replica B', ['1.33'], async () => {
  await replicas();
  // A's own kubeconfig: A holds no tunnel of the cluster, so every request takes the peer hop to B.
  return { kubeconfig: await a.kubeconfig(CLUSTER), prefix: 'peer' };
});

/** The replicas' rows: id and peer address. */
async function directory(): Promise<{ id: string; peer_url: string | null }[]> {
  const db = openPostgres(pg.url);
  try {
    return await db.selectFrom('controller_replicas').select(['id', 'peer_url']).execute();
  } finally {
    await db.destroy();
  }
}

test('each request through A is on record once, at A, with the cluster; the chain verifies', async () => {
  const kubeconfig = await a.kubeconfig(CLUSTER);
  const marker = `peer-audit-${Date.now()}`;
  await assert.rejects(kubectl(['get', 'configmap', marker, '-n', 'default'], { kubeconfig }), /NotFound/);
  type Item = { cluster?: string; status?: number; objectRef?: { name?: string } };
  const records = await a.api<{ items: Item[] }>('GET', `/v1/audit/api?cluster=${CLUSTER}&limit=200`);
  const mine = records.body.items.filter((r) => r.objectRef?.name === marker);
  assert.equal(mine.length, 1, JSON.stringify(mine));
  assert.equal(mine[0]?.status, 404);
  const verified = await a.api<{ ok: boolean }>('GET', '/v1/audit/verify');
  assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
});

test('the peer listener lets in only replicas: no client certificate, or one of another CA, is refused', async () => {
  const peers = (await directory()).filter((r) => r.peer_url);
  assert.equal(peers.length, 2, JSON.stringify(peers));
  const { hostname, port } = new URL(peers[0]?.peer_url ?? '');
  // No certificate: TLS 1.3 lets the handshake finish, then the server's alert ends the connection
  // before any stream is answered.
  const attempt = (opts: tls.ConnectionOptions) =>
    new Promise<string>((resolve) => {
      const session = http2.connect(`https://${hostname}:${port}`, {
        ...opts,
        rejectUnauthorized: false,
      });
      session.on('error', (err) => resolve(`refused: ${err.message}`));
      session.on('close', () => resolve('refused: the connection closed'));
      const stream = session.request({ ':path': '/probe', 'ztka-peer-op': 'probe' });
      stream.on('error', (err) => resolve(`refused: ${err.message}`));
      stream.on('close', () => resolve('refused: the stream closed unanswered'));
      stream.on('response', (h) => resolve(`answered ${String(h[':status'])}`));
      stream.end();
      setTimeout(() => {
        resolve('no answer');
        session.destroy();
      }, 5000).unref();
    });
  assert.match(await attempt({}), /^refused/);
  // A certificate of the controller's own (public) CA is not a replica's.
  const tlsDir = path.join(a.dir, 'controller', 'tls');
  const cert = await fs.readFile(path.join(tlsDir, 'tls.crt'), 'utf8');
  const key = await fs.readFile(path.join(tlsDir, 'tls.key'), 'utf8');
  assert.match(await attempt({ cert, key }), /^refused/);
});

test('a copy of the agent at replica A does not take the cluster from its live tunnel on B', async () => {
  const file = path.join(b.dir, `agent-${CLUSTER}`, 'credential');
  const [credential = '', ...pem] = (await fs.readFile(file, 'utf8')).split('\n');
  const key = createPrivateKey(pem.join('\n'));
  const jitNamespace = b.jitNamespaces.get(CLUSTER)?.namespace ?? '';
  const clusterIdentity = (
    await env.admin(['get', 'ns', 'kube-system', '-o', 'jsonpath={.metadata.uid}'])
  ).trim();
  const proof = signAgentProof(key, {
    credentialId: agentCredentialId(credential),
    clusterIdentity,
    jitNamespace,
  });
  const status = await dialAgentEndpoint(a, {
    upgrade: 'ztka-tunnel-h2',
    authorization: `Bearer ${credential}`,
    [AGENT_PROOF_HEADER]: proof,
    [CLUSTER_IDENTITY_HEADER]: clusterIdentity,
    [JIT_NAMESPACE_HEADER]: jitNamespace,
  });
  assert.equal(
    status,
    409,
    `B still holds the live tunnel; A said:\n${a.controllerOutput()}\nB said:\n${b.controllerOutput()}\n${JSON.stringify(await directory())}`,
  );
  // Still served, through either replica.
  for (const via of [a, b]) {
    const kubeconfig = await kubeconfigVia(a, via, CLUSTER, a.adminKey);
    await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig });
  }
});

test('a cluster deleted through A loses its tunnel on B', async () => {
  const name = 'peered-deleted';
  await b.connectCluster(name, env.kubeconfig, CLUSTER);
  await a.waitForConnected(name, true);
  assert.equal((await a.api('DELETE', `/v1/clusters/${name}`)).status, 204);
  const deadline = Date.now() + 5000;
  while (!/401|unauthori[sz]ed/i.test(b.agentOutput(name))) {
    assert.ok(Date.now() < deadline, `B's agent was not cut off:\n${b.agentOutput(name)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await b.stopAgent(name);
});

/** One request through `z`'s kube proxy, never retried: its status, Retry-After and the request itself. */
function viaProxy(z: Ztka, token: string, method: string, uri: string, length?: number) {
  const req = https.request(`${z.url}${uri}`, {
    method,
    ca: z.ca,
    headers: {
      authorization: `Bearer ${token}`,
      ...(length === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(length) }),
    },
  });
  const answer = new Promise<{ status: number; retryAfter: string | undefined; body: string }>(
    (resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }),
        );
      });
    },
  );
  // A request with a body is written by the caller, in pieces; one without is sent at once.
  if (length === undefined) req.end();
  return { req, answer };
}

test('a replica that stops lets the requests others carry to its tunnel finish, and sends new ones back to retry', async () => {
  // A third replica C holds this cluster's tunnel; A carries requests to it. C stops gracefully while A is
  // carrying a write whose body is still arriving.
  const name = 'peered-drain';
  const c = await Ztka.start({ env: { ZTKA_DATABASE: pg.url, ...PEER }, adminPassword: a.adminPassword });
  try {
    await c.connectCluster(name, env.kubeconfig, CLUSTER);
    await a.waitForConnected(name, true);
    const token = await a.kubeToken(name);
    const base = `/k8s/clusters/${name}/api/v1/namespaces/default`;
    assert.equal((await viaProxy(a, token, 'GET', base).answer).status, 200);

    const configMap = `drain-${randomBytes(4).toString('hex')}`;
    const body = Buffer.from(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: configMap },
        data: { v: 'x'.repeat(2048) },
      }),
    );
    const write = viaProxy(a, token, 'POST', `${base}/configmaps`, body.length);
    write.req.write(body.subarray(0, 1024));
    // Long enough for A to have carried the stream to C, whose agent now waits for the rest of the body.
    await new Promise((r) => setTimeout(r, 1000));
    const stopping = c.stopController();

    // New requests through A are refused by the draining C before they reach the cluster: 503, retry.
    let refused: { status: number; retryAfter: string | undefined; body: string } | undefined;
    for (const deadline = Date.now() + 8000; !refused && Date.now() < deadline;) {
      const r = await viaProxy(a, token, 'GET', base).answer;
      if (r.status === 503) refused = r;
      else assert.equal(r.status, 200, r.body);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(refused, 'no request was refused while C drained');
    assert.equal(refused.retryAfter, '1');

    // The write carried before the stop began completes.
    write.req.end(body.subarray(1024));
    const written = await write.answer;
    assert.equal(written.status, 201, written.body);
    await stopping;
    await env.admin(['delete', 'configmap', configMap, '-n', 'default']);
  } finally {
    await c.stop();
  }
});
