import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { TunnelClient, backoffDelay } from './tunnel-client.js';

test('backoff doubles from the initial delay, is capped, and jitters within the upper half', () => {
  assert.equal(
    backoffDelay(0, 500, 30_000, () => 0),
    250,
  );
  assert.equal(
    backoffDelay(0, 500, 30_000, () => 1),
    500,
  );
  assert.equal(
    backoffDelay(3, 500, 30_000, () => 1),
    4000,
  );
  assert.equal(
    backoffDelay(20, 500, 30_000, () => 1),
    30_000,
  );
  assert.equal(
    backoffDelay(1000, 500, 30_000, () => 0),
    15_000,
  );
});

test('the first connected promise settles even when the first dials fail', async () => {
  // Find a free port, then leave it closed so the client's first dials are refused.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));

  const client = new TunnelClient({
    controllerUrl: `http://127.0.0.1:${port}`,
    ca: '',
    credential: 'c',
    agentVersion: 'test',
    kubeVersion: 'v0.0.0',
    clusterIdentity: 'id',
    onStream: () => {},
    log: pino({ level: 'silent' }),
    backoff: { initialMs: 20, maxMs: 40 },
  });
  const firstPromise = client.connected;
  client.start();
  await new Promise((r) => setTimeout(r, 150)); // several refused dials
  const server = new WebSocketServer({ host: '127.0.0.1', port });
  try {
    await Promise.race([
      firstPromise,
      new Promise((_, reject) => setTimeout(() => reject(new Error('connected never settled')), 5000)),
    ]);
    assert.equal(client.isConnected, true);
  } finally {
    client.stop();
    await new Promise((r) => server.close(r));
  }
});
