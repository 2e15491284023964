import assert from 'node:assert/strict';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { selfSignedCert } from '@ztka/testenv';
import { H2Pool } from './h2-pool.js';

const pem = selfSignedCert();

function listen(server: https.Server | http2.Http2SecureServer): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`https://localhost:${(server.address() as AddressInfo).port}`),
    ),
  );
}

test('long-running streams spill onto a new session instead of queueing behind each other', async (t) => {
  const server = http2.createSecureServer(pem);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  // Every stream stays open, like a watch, until the test ends.
  const open: http2.ServerHttp2Stream[] = [];
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.write('started\n');
    open.push(stream);
  });
  const origin = await listen(server);
  const pool = new H2Pool(origin, tls.createSecureContext({ ca: pem.cert }), {
    rejectUnauthorized: true,
    streamsPerSession: 2,
  });
  t.after(() => {
    pool.close();
    for (const s of open) s.close();
    server.close();
  });
  assert.equal(await pool.probe(), 'h2');
  const started = Array.from({ length: 5 }, () => {
    const stream = pool.request({ ':method': 'GET', ':path': '/watch' });
    stream.end();
    return new Promise<void>((resolve) => stream.once('data', () => resolve()));
  });
  await Promise.all(started);
  // 5 streams at 2 per session: three sessions, and none of the five waited.
  assert.equal(sessions.size, 3);
});

test('an apiserver without HTTP/2 is found out by the probe', async (t) => {
  const server = https.createServer(pem, (_req, res) => res.end('h1'));
  const origin = await listen(server);
  const pool = new H2Pool(origin, tls.createSecureContext({ ca: pem.cert }), { rejectUnauthorized: true });
  t.after(() => {
    pool.close();
    server.close();
  });
  assert.equal(await pool.probe(), 'http/1.1');
  assert.equal(pool.unsupported, true);
});

test(
  'a session whose apiserver stops answering is given up, with its streams',
  { timeout: 10_000 },
  async (t) => {
    const server = http2.createSecureServer(pem);
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.write('watching\n');
    });
    await listen(server);
    // A relay on loopback that can go silent, like an apiserver host that vanished without closing anything.
    let silent = false;
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      sockets.add(client).add(upstream);
      client.on('data', (d) => silent || upstream.write(d));
      upstream.on('data', (d) => silent || client.write(d));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const pool = new H2Pool(
      `https://localhost:${(relay.address() as AddressInfo).port}`,
      tls.createSecureContext({ ca: pem.cert }),
      { rejectUnauthorized: true, pingIntervalMs: 100, pingTimeoutMs: 300 },
    );
    t.after(() => {
      pool.close();
      for (const s of sockets) s.destroy();
      relay.close();
      server.close();
    });
    const watch = pool.request({ ':method': 'GET', ':path': '/watch' });
    watch.end();
    watch.on('error', () => {});
    await new Promise((r) => watch.once('data', r));
    silent = true;
    const started = Date.now();
    await new Promise((r) => watch.once('close', r));
    assert.ok(Date.now() - started < 2000, 'the watch outlived its silent apiserver');
  },
);
