// The agents' endpoint against stand-in agents on loopback: a credential is worth nothing without a fresh
// proof of the key registered with it, and a second connection of a cluster never takes over a tunnel that
// answers; every such connection is counted and recorded.
import assert from 'node:assert/strict';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import {
  AGENT_EVENTS,
  AGENT_PROOF_HEADER,
  AGENT_PROOF_WINDOW_MS,
  CLUSTER_IDENTITY_HEADER,
  JIT_NAMESPACE_HEADER,
  TUNNEL_TRANSPORTS,
  generateAgentKey,
  signAgentProof,
} from '@ztka/protocol';
import type { AuthenticatedAgent } from '../clusters/agent-credentials.js';
import { createMetrics } from '../observability/metrics.js';
import { RequestLimits } from '../access/request-limits.js';
import type { TunnelClaims } from './claims.js';
import { createAgentEndpoint, type AgentDirectory } from './accept.js';
import { AgentAlerts } from './alerts.js';
import { TunnelRegistry } from './session.js';

const CREDENTIAL_ID = 'AbCdEfGhIjKl';
const CREDENTIAL = `ztka_${CREDENTIAL_ID}.${'s'.repeat(43)}`;
const UNKNOWN = `ztka_ZZZZZZZZZZZZ.${'s'.repeat(43)}`;
const IDENTITY = '3f6b1a52-8c1e-4f7a-9d2b-0a1b2c3d4e5f';
const JIT = 'ztka-system';
const NOT_VALID = { code: 'unauthorized', message: 'a valid agent credential is required' };

interface Event {
  kind: string;
  cluster: string;
  detail: Record<string, unknown>;
}

async function rig(t: TestContext, opts: { probeTimeoutMs?: number; perAddress?: number } = {}) {
  const key = generateAgentKey();
  const agentKey = createPrivateKey(key.privateKeyPem);
  const registered: { publicKey: string | null } = { publicKey: key.publicKey };
  const used = new Set<string>();
  const directory: AgentDirectory = {
    authenticateAgent: async (credential): Promise<AuthenticatedAgent | undefined> =>
      credential === CREDENTIAL
        ? {
            clusterId: 'c1',
            clusterName: 'desktop',
            identity: IDENTITY,
            credentialId: CREDENTIAL_ID,
            publicKey: registered.publicKey,
          }
        : undefined,
    consumeAgentProof: async (id, nonce) => !used.has(id + nonce) && Boolean(used.add(id + nonce)),
    recordAgent: async () => undefined,
    markSeen: async () => undefined,
  };
  const log = pino({ level: 'silent' });
  const events: Event[] = [];
  const metrics = createMetrics();
  const alerts = new AgentAlerts({
    record: async (kind, cluster, _ip, detail) => void events.push({ kind, cluster, detail }),
    metrics,
    log,
  });
  const tunnels = new TunnelRegistry();
  // One replica: the store's locations (peers/locations.ts, tested against both databases) name no other.
  const claims: TunnelClaims = {
    holder: async () => undefined,
    isOwn: () => true,
    probe: async () => ({ alive: false }),
    claim: async () => true,
    release: async () => undefined,
  };
  const endpoint = createAgentEndpoint({
    directory,
    tunnels,
    claims,
    log,
    // Pings of the keepalive would find a silent tunnel by themselves; only the endpoint's own probe may.
    keepalive: { intervalMs: 60_000, timeoutMs: opts.probeTimeoutMs ?? 300 },
    alerts,
    limits: new RequestLimits({ perPerson: 0, perAddress: opts.perAddress ?? 0 }),
  });
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => void endpoint(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<Socket>();
  t.after(async () => {
    tunnels.closeAll('test over');
    for (const s of sockets) s.destroy();
    await alerts.close();
    await new Promise((r) => server.close(r));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/agents/connect`;

  /** A proof as the agent makes it (`with` another key, dated `at`, claiming another identity). */
  const proof = (o: { with?: KeyObject; at?: number; identity?: string; jitNamespace?: string } = {}) =>
    signAgentProof(
      o.with ?? agentKey,
      {
        credentialId: CREDENTIAL_ID,
        clusterIdentity: o.identity ?? IDENTITY,
        jitNamespace: o.jitNamespace ?? JIT,
      },
      o.at,
    );

  /**
   * Dials like an agent. On 101 it serves the tunnel's HTTP/2 (answering pings), or, `silent`, holds the
   * connection and says nothing, as a frozen agent would.
   */
  const dial = (headers: Record<string, string>, silent = false) =>
    new Promise<{
      status: number;
      /** The status line's reason phrase. */
      reason?: string;
      body?: { code: string; message: string };
      socket?: Socket;
    }>((resolve, reject) => {
      const req = http.request(url, {
        agent: false,
        headers: {
          connection: 'Upgrade',
          upgrade: TUNNEL_TRANSPORTS.h2,
          [CLUSTER_IDENTITY_HEADER]: IDENTITY,
          [JIT_NAMESPACE_HEADER]: JIT,
          ...headers,
        },
      });
      req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
        sockets.add(socket);
        socket.on('error', () => undefined);
        if (head.length > 0) socket.unshift(head);
        if (!silent) http2.performServerHandshake(socket).on('error', () => undefined);
        resolve({ status: 101, socket });
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', body: JSON.parse(text) }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  const withProof = (value = proof()) => ({
    authorization: `Bearer ${CREDENTIAL}`,
    [AGENT_PROOF_HEADER]: value,
  });
  const counted = async (name: string) =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values.map((v) => ({ ...v.labels, n: v.value }));
  return { url, dial, proof, withProof, tunnels, events, alerts, registered, counted };
}

test('a credential without a fresh proof of its key gets the answer an unknown credential gets', async (t) => {
  const r = await rig(t);
  const thief = createPrivateKey(generateAgentKey().privateKeyPem);
  for (const headers of [
    {},
    { authorization: `Bearer ${UNKNOWN}`, [AGENT_PROOF_HEADER]: r.proof() },
    { authorization: `Bearer ${CREDENTIAL}` },
    r.withProof(r.proof({ with: thief })),
    r.withProof('v1.garbage'),
    // Made for another cluster's identity than the one the connection claims.
    r.withProof(r.proof({ identity: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d' })),
  ]) {
    const answer = await r.dial(headers);
    assert.equal(answer.status, 401, JSON.stringify(headers));
    assert.deepEqual(answer.body, NOT_VALID);
  }
  assert.equal(r.tunnels.get('desktop'), undefined);
  // Only refusals of a valid credential name a cluster: recorded once, the repeats counted into one more.
  assert.deepEqual(r.events, [
    {
      kind: AGENT_EVENTS.refused,
      cluster: 'desktop',
      detail: { reason: 'key_proof', credentialId: CREDENTIAL_ID },
    },
  ]);
  await r.alerts.flush();
  assert.deepEqual(r.events[1], {
    kind: AGENT_EVENTS.refused,
    cluster: 'desktop',
    detail: { reason: 'key_proof', credentialId: CREDENTIAL_ID, repeated: 3 },
  });
  assert.deepEqual(await r.counted('ztka_agent_connections_refused_total'), [
    { reason: 'credential', n: 2 },
    { reason: 'key_proof', n: 4 },
  ]);
});

test('each proof opens at most one connection', async (t) => {
  const r = await rig(t);
  const once = r.proof();
  const first = await r.dial(r.withProof(once));
  assert.equal(first.status, 101);
  // The agent hangs up: its tunnel ends at once (not at the next unanswered ping).
  first.socket?.end();
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(r.tunnels.get('desktop'), undefined);
  const replayed = await r.dial(r.withProof(once));
  assert.equal(replayed.status, 401);
  assert.deepEqual(replayed.body, NOT_VALID);
  assert.equal(r.events.at(-1)?.detail['reason'], 'replay');
  assert.equal((await r.dial(r.withProof())).status, 101);
});

test("a proof dated outside the window is refused, naming the controller's clock", async (t) => {
  const r = await rig(t);
  for (const at of [
    Date.now() - AGENT_PROOF_WINDOW_MS - 10_000,
    Date.now() + AGENT_PROOF_WINDOW_MS + 10_000,
  ]) {
    const answer = await r.dial(r.withProof(r.proof({ at })));
    assert.equal(answer.status, 401);
    assert.match(answer.body?.message ?? '', /more than 5 minutes away from the controller's clock \(\d{4}-/);
  }
  assert.equal(r.events[0]?.detail['reason'], 'clock');
});

test('a credential registered without a key is refused, saying how to register again', async (t) => {
  const r = await rig(t);
  r.registered.publicKey = null;
  const answer = await r.dial(r.withProof());
  assert.equal(answer.status, 401);
  assert.match(answer.body?.message ?? '', /issued before agents held keys .* register the agent again/);
  assert.equal(r.events[0]?.detail['reason'], 'no_key');
});

test('a second connection never takes over a tunnel that answers, and is recorded and counted', async (t) => {
  const r = await rig(t);
  const first = await r.dial(r.withProof());
  assert.equal(first.status, 101);
  const live = r.tunnels.get('desktop');
  assert.ok(live);
  await new Promise((res) => setTimeout(res, 50));
  const second = await r.dial(r.withProof());
  assert.equal(second.status, 409);
  assert.match(second.body?.message ?? '', /cluster desktop already has a live tunnel/);
  assert.equal(r.tunnels.get('desktop'), live, 'the live tunnel was replaced');
  assert.equal(r.events[0]?.kind, AGENT_EVENTS.contested);
  assert.equal(r.events[0]?.detail['outcome'], 'refused');
  assert.deepEqual(await r.counted('ztka_agent_tunnel_contests_total'), [
    { cluster: 'desktop', outcome: 'refused', n: 1 },
  ]);
});

test('a connection replaces a tunnel that no longer answers, and says so', async (t) => {
  const r = await rig(t, { probeTimeoutMs: 300 });
  const frozen = await r.dial(r.withProof(), true);
  assert.equal(frozen.status, 101);
  await new Promise((res) => setTimeout(res, 50));
  const old = r.tunnels.get('desktop');
  assert.ok(old);
  const started = Date.now();
  const next = await r.dial(r.withProof());
  assert.equal(next.status, 101);
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  assert.equal(old.isOpen, false);
  assert.notEqual(r.tunnels.get('desktop'), old);
  assert.equal(r.events[0]?.detail['outcome'], 'replaced');
  assert.deepEqual(await r.counted('ztka_agent_tunnel_contests_total'), [
    { cluster: 'desktop', outcome: 'replaced', n: 1 },
  ]);
});

test('of connections that arrive together for a free cluster, exactly one gets it', async (t) => {
  const r = await rig(t);
  const answers = await Promise.all(Array.from({ length: 4 }, () => r.dial(r.withProof())));
  assert.deepEqual(answers.map((a) => a.status).sort(), [101, 409, 409, 409]);
});

test('an address that keeps presenting credentials that are no agent’s is slowed to 429', async (t) => {
  const r = await rig(t, { perAddress: 1 });
  const statuses: number[] = [];
  for (let i = 0; i < 14; i++) statuses.push((await r.dial({ authorization: `Bearer ${UNKNOWN}` })).status);
  // One per second over a 10 s window: ten refusals, then the answer says to wait.
  assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(4).fill(429)]);
  // The real agent, from the same address, still gets in.
  assert.equal((await r.dial(r.withProof())).status, 101);
});

test('a refusal says its status in the status line and its code in the body', async (t) => {
  const r = await rig(t);
  const refused = await r.dial({});
  assert.equal(refused.status, 401);
  assert.equal(refused.reason, 'Unauthorized');
  assert.deepEqual(refused.body, NOT_VALID);
});

test('a connection that asks for no tunnel transport is a 400 naming the ones there are', async (t) => {
  const r = await rig(t);
  const answer = await r.dial({ ...r.withProof(), upgrade: 'h2c' });
  assert.equal(answer.status, 400);
  assert.equal(answer.reason, 'Bad Request');
  assert.equal(answer.body?.code, 'bad_request');
  assert.match(answer.body?.message ?? '', /Upgrade: ztka-tunnel-h2 or websocket/);
  assert.equal(r.tunnels.get('desktop'), undefined);
});

test("a credential presented for another cluster's identity is refused and recorded", async (t) => {
  const r = await rig(t);
  const other = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
  // A valid proof, made for the identity the connection claims: only the credential's binding refuses it.
  const answer = await r.dial({
    ...r.withProof(r.proof({ identity: other })),
    [CLUSTER_IDENTITY_HEADER]: other,
  });
  assert.equal(answer.status, 403);
  assert.deepEqual(answer.body, { code: 'forbidden', message: 'this credential belongs to another cluster' });
  assert.equal(r.events[0]?.detail['reason'], 'identity');
  assert.equal(r.tunnels.get('desktop'), undefined);
});

test('an agent that reports no valid JIT namespace is refused: the controller could not guard it', async (t) => {
  const r = await rig(t);
  for (const jitNamespace of ['', 'Not_A_Label']) {
    const answer = await r.dial({
      ...r.withProof(r.proof({ jitNamespace })),
      [JIT_NAMESPACE_HEADER]: jitNamespace,
    });
    assert.equal(answer.status, 400, jitNamespace);
    assert.match(answer.body?.message ?? '', /must report its JIT namespace/);
  }
  assert.equal(r.tunnels.get('desktop'), undefined);
});

test('over the WebSocket transport the connection becomes the same tunnel', async (t) => {
  const r = await rig(t);
  const ws = new WebSocket(r.url.replace(/^http/, 'ws'), {
    headers: {
      ...r.withProof(),
      [CLUSTER_IDENTITY_HEADER]: IDENTITY,
      [JIT_NAMESPACE_HEADER]: JIT,
    },
  });
  t.after(() => ws.terminate());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  for (let i = 0; i < 50 && !r.tunnels.get('desktop'); i++) await new Promise((res) => setTimeout(res, 10));
  assert.equal(r.tunnels.get('desktop')?.info.transport, 'websocket');
});
