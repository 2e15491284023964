// The controller's public listener against callers who hold nothing, on the real controller: /metrics
// tells them nothing, slow request heads (slowloris) and unfinished TLS handshakes are cut off, CONNECT and
// oversized credential headers get an answer rather than a silent close, and it keeps serving throughout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { kubectl, testEnv, Ztka, type TestEnv } from '@ztka/testenv';

const CLUSTER = 'listener-secret-name';
const METRICS_TOKEN = randomBytes(32).toString('hex');
/** The controller's limits (http/limits.ts): a request head within 10 s, a TLS handshake within 10 s. */
const HEADERS_TIMEOUT_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;

let env: TestEnv;
let z: Ztka;

before(async () => {
  env = await testEnv();
  z = await Ztka.start({ metricsToken: METRICS_TOKEN });
  await z.connectCluster(CLUSTER, env.kubeconfig);
});
after(() => z?.stop());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function request(
  target: Ztka,
  uri: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    https
      .request(`${target.url}${uri}`, { method, ca: target.ca, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject)
      .end();
  });
}

/** Writes `text` on a fresh TLS connection and resolves with everything the server sent until it closed. */
function rawExchange(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(z.url);
    const socket = tls.connect({ host: hostname, port: Number(port), ca: z.ca }, () => socket.write(text));
    let got = '';
    socket.setEncoding('utf8').on('data', (c: string) => (got += c));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

test('/metrics: nothing without the token, everything with it, and no route where none is configured', async () => {
  await kubectl(['get', 'ns', 'default'], { kubeconfig: await z.kubeconfig(CLUSTER), version: '1.33' });
  for (const authorization of [
    undefined,
    'Bearer wrong',
    `Bearer ${z.adminKey}`,
    `Bearer ${METRICS_TOKEN}0`,
  ]) {
    const res = await request(z, '/metrics', authorization ? { authorization } : {});
    assert.equal(res.status, 401, String(authorization));
    assert.doesNotMatch(res.body, new RegExp(CLUSTER));
    assert.doesNotMatch(res.body, /ztka_/);
  }
  const scraped = await request(z, '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` });
  assert.equal(scraped.status, 200);
  assert.match(
    scraped.body,
    new RegExp(`^ztka_proxy_requests_total\\{cluster="${CLUSTER}",verb="get",code="200"\\} [1-9]`, 'm'),
  );
  assert.match(scraped.body, /^ztka_connected_agents 1$/m);

  // A controller without a metrics token has no /metrics: it answers as for any path it does not know.
  const bare = await Ztka.start();
  try {
    const metrics = await request(bare, '/metrics');
    const unknown = await request(bare, '/no-such-path');
    assert.equal(metrics.status, unknown.status);
    assert.equal(metrics.body, unknown.body);
    assert.doesNotMatch(metrics.body, /ztka_/);
  } finally {
    await bare.stop();
  }
});

test('50 slowloris connections and 10 unfinished TLS handshakes are closed by the server in time', async () => {
  const { hostname, port } = new URL(z.url);
  const slow = Array.from({ length: 50 }, () => {
    const opened = Date.now();
    return new Promise<{ after: number; answer: string }>((resolve, reject) => {
      let answer = '';
      let drip: NodeJS.Timeout | undefined;
      const socket = tls.connect({ host: hostname, port: Number(port), ca: z.ca }, () => {
        // A head that never ends: one more header line every half second.
        socket.write('GET /v1/clusters HTTP/1.1\r\nHost: x\r\n');
        drip = setInterval(() => socket.write(`X-Slow-${Date.now()}: 1\r\n`), 500);
      });
      socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
      socket.on('close', () => {
        clearInterval(drip);
        resolve({ after: Date.now() - opened, answer });
      });
      socket.on('error', (err: NodeJS.ErrnoException) =>
        err.code === 'ECONNRESET' ? undefined : reject(err),
      );
    });
  });
  const silent = Array.from({ length: 10 }, () => {
    const opened = Date.now();
    return new Promise<number>((resolve) => {
      const socket = net.connect(Number(port), hostname);
      socket.on('close', () => resolve(Date.now() - opened));
      socket.on('error', () => undefined);
    });
  });
  // The listener serves others meanwhile.
  assert.equal((await request(z, '/healthz')).status, 200);

  for (const { after, answer } of await Promise.all(slow)) {
    assert.ok(after <= HEADERS_TIMEOUT_MS + 2500, `a slow head was held ${after} ms`);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"request_timeout"/);
  }
  for (const after of await Promise.all(silent))
    assert.ok(after <= HANDSHAKE_TIMEOUT_MS + 2500, `a connection without a handshake was held ${after} ms`);
  assert.equal((await request(z, '/healthz')).status, 200);
});

test('CONNECT is answered 405, not dropped', async () => {
  const answer = await rawExchange('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  assert.match(answer, /\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/);
  assert.match(answer, /"code":"method_not_allowed"/);
});

test('an upgrade to a path nothing serves is answered 404 with its code, like every other refusal', async () => {
  const answer = await rawExchange(
    'GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
  );
  assert.match(answer, /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.match(answer, /"code":"not_found"/);
});

test('a 20 KB Cookie or Authorization header is answered 431, in the shape of its audience', async () => {
  const big = 'x'.repeat(20_000);
  const api = await request(z, '/v1/clusters', { cookie: `__Host-ztka_session=${big}` });
  assert.equal(api.status, 431);
  assert.equal((JSON.parse(api.body) as { code: string }).code, 'headers_too_large');

  const kube = await request(z, `/k8s/clusters/${CLUSTER}/api/v1/namespaces`, {
    authorization: `Bearer ${big}`,
  });
  assert.equal(kube.status, 431);
  const status = JSON.parse(kube.body) as { kind: string; code: number };
  assert.equal(status.kind, 'Status');
  assert.equal(status.code, 431);

  // An upgrade (the browser shell's WebSocket) too.
  const upgrade = await rawExchange(
    `GET /v1/shell?cluster=${CLUSTER} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
      `Cookie: __Host-ztka_session=${big}\r\n\r\n`,
  );
  assert.match(upgrade, /^HTTP\/1\.1 431 /);
  assert.equal((await request(z, '/healthz')).status, 200);
});
