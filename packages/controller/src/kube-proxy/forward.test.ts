// The proxy's promise to the audit trail, held against a stand-in agent on loopback: no client holds a
// complete answer before its record is committed, and an answer is whole or is a failure.
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { RequestLimits } from '../access/request-limits.js';
import type { ApiRecord } from '../audit/record.js';
import type { Principal } from '../auth/credentials.js';
import { LocalRoute } from '../tunnel/route.js';
import { AgentSession, TunnelRegistry } from '../tunnel/session.js';
import { WHOLE_ANSWER_LIMIT } from '@ztka/protocol';
import { createKubeProxy } from './proxy.js';

const principal: Principal = {
  credentialId: 'c1',
  kind: 'kube_token',
  userId: 'u1',
  username: 'demos@rafay.co',
  orgId: 'o1',
  channel: 'cli',
  clusterId: null,
  sessionId: null,
  expiresAt: null,
};

interface Rig {
  url: string;
  /** Records handed to the store, each with the means to commit or fail it. */
  pending: Array<{ record: ApiRecord; commit(): void; fail(): void }>;
  /** Ends the tunnel, as the keepalive does when the agent stops answering. */
  closeTunnel(): void;
  close(): Promise<void>;
}

/** A proxy whose agent answers every stream with `answer`, and whose audit commits only when told. */
async function rig(answer: (stream: http2.ServerHttp2Stream) => void): Promise<Rig> {
  const agentSockets = new Set<net.Socket>();
  const agent = net.createServer((socket) => {
    agentSockets.add(socket);
    http2.performServerHandshake(socket).on('stream', (stream) => answer(stream));
  });
  await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
  const socket = net.connect((agent.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const log = pino({ level: 'silent' });
  const tunnels = new TunnelRegistry();
  tunnels.add(
    new AgentSession(
      {
        cluster: 'desktop',
        agentVersion: 't',
        kubeVersion: 't',
        jitNamespace: 'ztka-system',
        remoteAddress: '',
        transport: 'h2',
      },
      { stream: socket, end: () => socket.destroy(), bytesReceived: () => socket.bytesRead },
      log,
      { intervalMs: 60_000, timeoutMs: 60_000 },
    ),
  );
  const pending: Rig['pending'] = [];
  const proxy = createKubeProxy({
    route: async (cluster) => {
      const session = tunnels.get(cluster);
      return session && new LocalRoute(session);
    },
    reconnecting: async () => false,
    authenticate: async () => principal,
    authorize: async () => ({ user: principal.username, userId: principal.userId, role: 'ADMIN' }),
    track: () => () => undefined,
    limits: new RequestLimits({ perPerson: 0, perAddress: 0 }),
    audit: (record) =>
      new Promise<void>((resolve, reject) =>
        pending.push({ record, commit: resolve, fail: () => reject(new Error('store down')) }),
      ),
  });
  const server = http.createServer((req, res) => proxy.handleRequest(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/k8s/clusters/desktop`,
    pending,
    closeTunnel: () => tunnels.closeAll('the agent stopped answering'),
    close: async () => {
      tunnels.closeAll('test over');
      server.closeAllConnections();
      for (const s of agentSockets) s.destroy();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => agent.close(r))]);
    },
  };
}

interface Seen {
  status?: number | undefined;
  headers?: http.IncomingHttpHeaders;
  bytes: number;
  complete: boolean;
  error?: string;
}

/** Starts a request (a GET unless told) and reports what the client has seen so far, as it happens. */
function get(url: string, method = 'GET'): Seen & { done: Promise<void> } {
  const seen: Seen & { done: Promise<void> } = { bytes: 0, complete: false, done: Promise.resolve() };
  seen.done = new Promise<void>((resolve) => {
    const req = http.request(url, { method }, (res) => {
      seen.status = res.statusCode;
      seen.headers = res.headers;
      res.on('data', (c: Buffer) => (seen.bytes += c.length));
      res.on('end', () => {
        seen.complete = true;
        resolve();
      });
      res.on('error', (err) => {
        seen.error = err.message;
        resolve();
      });
    });
    req.on('error', (err) => {
      seen.error = err.message;
      resolve();
    });
    req.end();
  });
  return seen;
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

async function untilPending(r: Rig): Promise<void> {
  for (let i = 0; i < 100 && r.pending.length === 0; i++) await settle(10);
  assert.equal(r.pending.length, 1, 'the record was never handed to the store');
}

test('a small answer reaches the client only once its record commits, whole, in one piece', async (t) => {
  const body = JSON.stringify({ kind: 'Namespace', metadata: { name: 'default' } });
  const r = await rig((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': body.length });
    stream.end(body);
  });
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/namespaces/default`);
  await untilPending(r);
  await settle();
  assert.equal(seen.status, undefined, 'the client saw the answer before its record was committed');
  r.pending[0]?.commit();
  await seen.done;
  assert.equal(seen.status, 200);
  assert.equal(seen.complete, true);
  assert.equal(seen.bytes, body.length);
  assert.equal(seen.headers?.['content-length'], String(body.length));
  assert.equal(r.pending[0]?.record.bytes, body.length);
});

test('a large answer streams at once, but its end waits for the record', async (t) => {
  const size = WHOLE_ANSWER_LIMIT * 4;
  const r = await rig((stream) => {
    stream.respond({ ':status': 200, 'content-length': size });
    stream.end(Buffer.alloc(size, 'x'));
  });
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/configmaps`);
  await untilPending(r);
  await settle();
  assert.equal(seen.status, 200);
  assert.equal(seen.bytes, size, 'the body did not stream ahead of the record');
  assert.equal(seen.complete, false, 'the answer completed before its record was committed');
  // Chunked, so that only the final chunk, sent after the commit, completes it.
  assert.equal(seen.headers?.['content-length'], undefined);
  r.pending[0]?.commit();
  await seen.done;
  assert.equal(seen.complete, true);
});

test('an answer shorter than its Content-Length is a 502, never a truncated success', async (t) => {
  const r = await rig((stream) => {
    stream.respond({ ':status': 200, 'content-length': 100 });
    stream.end('short');
  });
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/namespaces/default`);
  await untilPending(r);
  assert.equal(r.pending[0]?.record.status, 502);
  // nghttp2 itself refuses a body shorter than its announced length; either way it is recorded as failed.
  assert.ok(r.pending[0]?.record.reason);
  r.pending[0]?.commit();
  await seen.done;
  assert.equal(seen.status, 502);
  // kubectl's HTTP cache must not keep a refusal and replay it to later commands.
  assert.equal(seen.headers?.['cache-control'], 'no-store');
});

test('when the record cannot be committed the client gets a 500 and none of the answer', async (t) => {
  const r = await rig((stream) => {
    stream.respond({ ':status': 200, 'content-length': 6 });
    stream.end('secret');
  });
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/secrets`);
  await untilPending(r);
  r.pending[0]?.fail();
  await seen.done;
  assert.equal(seen.status, 500);
  assert.equal(seen.complete, true);
  assert.ok(seen.bytes > 0);
});

test('a HEAD answer keeps its Content-Length and has no body to wait for', async (t) => {
  const r = await rig((stream) => {
    stream.respond({ ':status': 200, 'content-length': 100 });
    stream.end();
  });
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/namespaces/default`, 'HEAD');
  await untilPending(r);
  assert.equal(r.pending[0]?.record.status, 200);
  r.pending[0]?.commit();
  await seen.done;
  assert.equal(seen.status, 200);
  assert.equal(seen.headers?.['content-length'], '100');
});

test('a request in flight when its tunnel closes gets a 502 Status, never an empty success', async (t) => {
  let reached!: () => void;
  const atAgent = new Promise<void>((resolve) => (reached = resolve));
  const r = await rig(() => reached()); // the agent never answers
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/namespaces`);
  await atAgent;
  r.closeTunnel();
  await untilPending(r);
  assert.equal(r.pending[0]?.record.status, 502);
  assert.match(r.pending[0]?.record.reason ?? '', /tunnel to cluster desktop closed/);
  r.pending[0]?.commit();
  await seen.done;
  assert.equal(seen.status, 502);
});

test('a watch whose tunnel closes is cut off, never completed', async (t) => {
  const r = await rig((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.write('{"type":"ADDED"}\n');
  });
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/namespaces?watch=1`);
  await untilPending(r);
  assert.equal(r.pending[0]?.record.stage, 'ResponseStarted');
  r.pending[0]?.commit();
  for (let i = 0; i < 100 && seen.bytes === 0; i++) await settle(10);
  assert.equal(seen.status, 200);
  r.closeTunnel();
  for (let i = 0; i < 100 && r.pending.length < 2; i++) await settle(10);
  assert.equal(r.pending[1]?.record.status, 200);
  assert.match(r.pending[1]?.record.reason ?? '', /tunnel to cluster desktop closed/);
  r.pending[1]?.commit();
  await seen.done;
  assert.equal(seen.complete, false, 'a cut watch looked complete');
  assert.ok(seen.error);
});

test('a write travels only once its RequestReceived record commits; a read has no such record', async (t) => {
  let streams = 0;
  const r = await rig((stream) => {
    streams++;
    stream.respond({ ':status': 201, 'content-length': 2 });
    stream.end('{}');
  });
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/namespaces/default/configmaps`, 'POST');
  await untilPending(r);
  await settle();
  assert.equal(r.pending[0]?.record.stage, 'RequestReceived');
  assert.equal(r.pending[0]?.record.verb, 'create');
  assert.equal(streams, 0, 'the write was forwarded before it was on record');
  r.pending[0]?.commit();
  for (let i = 0; i < 100 && r.pending.length < 2; i++) await settle(10);
  assert.equal(streams, 1);
  assert.equal(r.pending[1]?.record.stage, 'ResponseComplete');
  assert.equal(r.pending[1]?.record.id, r.pending[0]?.record.id, 'the two stages are not one request');
  r.pending[1]?.commit();
  await seen.done;
  assert.equal(seen.status, 201);
});

test('a write whose RequestReceived record cannot commit is refused and never forwarded', async (t) => {
  let streams = 0;
  const r = await rig((stream) => {
    streams++;
    stream.respond({ ':status': 200 });
    stream.end();
  });
  t.after(() => r.close());
  const seen = get(`${r.url}/api/v1/namespaces/default/pods/web/exec?command=id`, 'POST');
  await untilPending(r);
  r.pending[0]?.fail();
  await seen.done;
  assert.equal(seen.status, 500);
  assert.equal(streams, 0);
});

test('a tunnel that closes while a write is put on record fails that write with 502, on record too', async (t) => {
  let forwarded = 0;
  const r = await rig((stream) => {
    forwarded++;
    stream.respond({ ':status': 200 });
    stream.end();
  });
  t.after(() => r.close());
  // A write is recorded (RequestReceived) before it travels; the agent goes away meanwhile.
  const seen = get(`${r.url}/api/v1/namespaces/default/configmaps/x`, 'DELETE');
  await untilPending(r);
  r.closeTunnel();
  r.pending[0]?.commit();
  // Once crashed the whole controller (an uncaught throw from the closed session); now the write fails.
  for (let i = 0; i < 100 && r.pending.length < 2; i++) await settle(10);
  r.pending[1]?.commit();
  await seen.done;
  assert.equal(seen.status, 502);
  assert.equal(forwarded, 0, 'nothing reached the cluster');
  assert.deepEqual(
    r.pending.map((p) => [p.record.stage, p.record.status]),
    [
      ['RequestReceived', 0],
      ['ResponseComplete', 502],
    ],
  );
});
