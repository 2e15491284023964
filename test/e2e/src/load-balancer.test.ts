// A controller behind a real haproxy in TCP passthrough (TLS ends at the controller), which names each
// client in a PROXY protocol v2 header: kubectl and the agent reach it through the balancer, the audit
// trail names the client rather than the balancer, nobody else can name a client, and a controller that
// is shutting down is taken out of the balancer before its listener closes. Loopback answers all of
// 127/8, so the balancer connects from 127.0.0.4 and clients from other 127.0.0.x addresses.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import {
  freePort,
  kubectl,
  startHaproxy,
  testEnv,
  Ztka,
  type HaproxyServer,
  type TestEnv,
} from '@ztka/testenv';

const CLUSTER = 'balanced';
/** The balancer's address toward the controller, the one `--proxy-protocol-from` trusts. */
const BALANCER = '127.0.0.4';
/** A client's own address, chosen with `localAddress`. */
const CLIENT = '127.0.0.2';
const OTHER = '127.0.0.3';
const SHUTDOWN_DELAY_SECONDS = 4;

let env: TestEnv;
let z: Ztka;
let lb: HaproxyServer;
let controller: { host: string; port: number };

before(async () => {
  env = await testEnv();
  // The controller's public URL is the balancer's, whose port is chosen first; the balancer is started
  // once the controller's own port is known.
  const port = await freePort();
  z = await Ztka.start({
    publicUrl: `https://127.0.0.1:${port}`,
    args: [
      '--proxy-protocol-from',
      `${BALANCER}/32`,
      '--shutdown-delay-seconds',
      String(SHUTDOWN_DELAY_SECONDS),
    ],
  });
  const listen = new URL(z.listenUrl);
  controller = { host: listen.hostname, port: Number(listen.port) };
  lb = await startHaproxy({ port, backends: [listen.host], sourceAddress: BALANCER });
  await lb.waitFor('c0', 'UP');
  // Registration and the agent's tunnel go through the balancer too (z.url is its URL).
  await z.connectCluster(CLUSTER, env.kubeconfig, CLUSTER);
});
after(async () => {
  await z?.stop();
  await lb?.stop();
});

interface Answer {
  status: number;
  body: string;
}

/** One HTTPS request from `from` to `url`, on a connection of its own. */
function request(
  url: string,
  opts: { from?: string; method?: string; body?: unknown; token?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: z.ca,
        agent: false,
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A PROXY v2 header saying the connection comes from `client` (IPv4), as a balancer would send it. */
function proxyHeader(client: [number, number, number, number], clientPort: number): Buffer {
  const signature = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  const body = Buffer.alloc(12);
  Buffer.from(client).copy(body, 0);
  Buffer.from([127, 0, 0, 1]).copy(body, 4);
  body.writeUInt16BE(clientPort, 8);
  body.writeUInt16BE(controller.port, 10);
  return Buffer.concat([signature, Buffer.from([0x21, 0x11, 0, 12]), body]);
}

/**
 * Connects from `from` to `to`, sends `preface` (if any), then tries a TLS handshake and one request for
 * /healthz over the same connection: its status, or how the connection ended.
 */
function rawAttempt(
  from: string,
  to: { host: string; port: number },
  preface?: Buffer,
): Promise<{ status: number } | { closed: string }> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: to.host, port: to.port, localAddress: from }, () => {
      if (preface) raw.write(preface);
      const req = https.request(
        {
          host: to.host,
          port: to.port,
          path: '/healthz',
          createConnection: () => tls.connect({ socket: raw, ca: z.ca, host: to.host }),
        },
        (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0 });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ closed: err.code ?? err.message }));
      req.end();
    });
    raw.on('error', (err: NodeJS.ErrnoException) => resolve({ closed: err.code ?? err.message }));
  });
}

interface ApiRecord {
  requestURI: string;
  verb: string;
  sourceIPs: string[];
}
interface SystemEvent {
  event: string;
  user: string | null;
  sourceIp?: string;
  detail: Record<string, unknown>;
}

async function systemEvents(kind: string): Promise<SystemEvent[]> {
  const res = await z.api<{ items: SystemEvent[] }>('GET', `/v1/audit/system?q=${kind}&limit=200`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items.filter((e) => e.event === kind);
}

test('kubectl through the balancer: answered by the cluster, on record with its own address', async () => {
  const kubeconfig = await z.kubeconfig(CLUSTER);
  assert.match(
    await fs.readFile(kubeconfig, 'utf8'),
    new RegExp(`server: ${lb.url}/k8s/clusters/${CLUSTER}`),
  );
  const { stdout } = await kubectl(['get', 'namespace', 'kube-system', '-o', 'name'], { kubeconfig });
  assert.equal(stdout.trim(), 'namespace/kube-system');

  // kubectl connects to the balancer from 127.0.0.1 (the kernel's choice on loopback); the balancer to the
  // controller from 127.0.0.4. The record has the client's address, never the balancer's.
  const res = await z.api<{ items: ApiRecord[] }>('GET', `/v1/audit/api?cluster=${CLUSTER}&limit=100`);
  const record = res.body.items.find(
    (r) => r.requestURI === `/k8s/clusters/${CLUSTER}/api/v1/namespaces/kube-system`,
  );
  assert.ok(record, JSON.stringify(res.body.items));
  assert.deepEqual(record.sourceIPs, ['127.0.0.1']);

  // The agent's tunnel came through the balancer as well, and its events name the agent's address.
  const connected = (await systemEvents('agent_connected')).filter((e) => e.detail['cluster'] === CLUSTER);
  assert.ok(connected.length > 0);
  for (const e of connected) assert.equal(e.sourceIp, '127.0.0.1');
});

test('a login through the balancer is on record with the address it came from', async () => {
  const login = (url: string, from: string) =>
    request(`${url}/v1/auth/login`, {
      from,
      method: 'POST',
      body: { username: 'admin', password: z.adminPassword, client: 'cli', keyName: `from ${from}` },
    });
  assert.equal((await login(z.url, CLIENT)).status, 200);
  // Straight to the controller from an address it does not trust, no header: served as itself.
  assert.equal((await login(z.listenUrl, OTHER)).status, 200);
  const logins = (await systemEvents('login')).filter((e) => e.user === 'admin');
  const from = new Set(logins.map((e) => e.sourceIp));
  assert.ok(from.has(CLIENT) && from.has(OTHER), JSON.stringify(logins));
  assert.ok(!from.has(BALANCER), JSON.stringify(logins));
});

test("a connection from the balancer's address without a PROXY header is closed before TLS", async () => {
  const attempt = await rawAttempt(BALANCER, controller);
  assert.ok('closed' in attempt, JSON.stringify(attempt));
  // A header that is not one (a wrong version) is no better.
  const wrong = proxyHeader([203, 0, 113, 9], 4000);
  wrong[12] = 0x11;
  assert.ok('closed' in (await rawAttempt(BALANCER, controller, wrong)));
  // With a valid one it is served.
  assert.deepEqual(await rawAttempt(BALANCER, controller, proxyHeader([203, 0, 113, 9], 4000)), {
    status: 200,
  });
});

test('a PROXY header from anyone else is refused, straight or through the balancer', async () => {
  const forged = proxyHeader([10, 66, 0, 1], 5000);
  const straight = await rawAttempt(CLIENT, controller, forged);
  assert.ok('closed' in straight, JSON.stringify(straight));
  // Through the balancer the forged header arrives after the balancer's own, where TLS expects a
  // ClientHello: it is never read as a header, and the handshake fails.
  const through = await rawAttempt(CLIENT, { host: lb.host, port: lb.port }, forged);
  assert.ok('closed' in through, JSON.stringify(through));
  // And plain clients are unaffected either way.
  assert.deepEqual(await rawAttempt(CLIENT, controller), { status: 200 });
  assert.deepEqual(await rawAttempt(CLIENT, { host: lb.host, port: lb.port }), { status: 200 });
});

test('a controller shutting down fails /readyz at once, leaves the balancer, then closes', async () => {
  const signalled = Date.now();
  process.kill(z.controllerPid, 'SIGTERM');
  for (;;) {
    const ready = await request(`${z.listenUrl}/readyz`);
    if (ready.status === 503) break;
    assert.equal(ready.status, 200);
    assert.ok(Date.now() - signalled < 2000, '/readyz still 200 two seconds after SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
  }
  // Alive, and still serving everything else while the balancer takes notice.
  assert.equal((await request(`${z.listenUrl}/healthz`)).status, 200);
  await lb.waitFor('c0', 'DOWN', 3000);
  const down = Date.now() - signalled;
  assert.ok(down < SHUTDOWN_DELAY_SECONDS * 1000, `marked down after ${down} ms`);
  assert.equal((await request(`${z.listenUrl}/healthz`)).status, 200);
  // Then the listener closes: refused, or reset when the attempt caught it closing.
  await assert.rejects(
    (async () => {
      for (;;) {
        await request(`${z.listenUrl}/healthz`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })(),
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET',
  );
  assert.ok(Date.now() - signalled >= SHUTDOWN_DELAY_SECONDS * 1000);
});
