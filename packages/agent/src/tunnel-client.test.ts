import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import {
  AGENT_PROOF_HEADER,
  TUNNEL_TRANSPORTS,
  generateAgentKey,
  parseAgentPublicKey,
  verifyAgentProof,
} from '@ztka/protocol';
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

/** A stand-in controller endpoint: accepts the upgrade of either transport and does nothing more. */
function acceptUpgrades(
  port: number,
): Promise<{ close(): Promise<void>; hangUp(): void; transports: string[]; proofs: string[] }> {
  const transports: string[] = [];
  const proofs: string[] = [];
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer();
  const sockets = new Set<Duplex>();
  server.on('upgrade', (req, socket, head) => {
    sockets.add(socket);
    transports.push(String(req.headers.upgrade));
    proofs.push(String(req.headers[AGENT_PROOF_HEADER]));
    if (req.headers.upgrade === TUNNEL_TRANSPORTS.websocket)
      wss.handleUpgrade(req, socket, head, () => undefined);
    else
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_TRANSPORTS.h2}\r\n\r\n`,
      );
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({
        transports,
        proofs,
        hangUp: () => {
          for (const s of sockets) s.destroy();
        },
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      }),
    ),
  );
}

for (const transport of ['h2', 'websocket'] as const) {
  test(`${transport}: the first connected promise settles even when the first dials fail`, async () => {
    // Find a free port, then leave it closed so the client's first dials are refused.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));

    const client = new TunnelClient({
      controllerUrl: `http://127.0.0.1:${port}`,
      ca: '',
      credential: 'c',
      privateKey: createPrivateKey(generateAgentKey().privateKeyPem),
      agentVersion: 'test',
      kubeVersion: 'v0.0.0',
      clusterIdentity: 'id',
      jitNamespace: 'ztka-system',
      transport,
      onStream: () => {},
      log: pino({ level: 'silent' }),
      backoff: { initialMs: 20, maxMs: 40 },
    });
    const firstPromise = client.connected;
    client.start();
    await new Promise((r) => setTimeout(r, 150)); // several refused dials
    const server = await acceptUpgrades(port);
    try {
      await Promise.race([
        firstPromise,
        new Promise((_, reject) => setTimeout(() => reject(new Error('connected never settled')), 5000)),
      ]);
      assert.equal(client.isConnected, true);
      assert.deepEqual(server.transports, [TUNNEL_TRANSPORTS[transport]]);
    } finally {
      client.stop();
      await server.close();
    }
  });
}

for (const transport of ['h2', 'websocket'] as const) {
  test(`${transport}: every dial carries a fresh proof of the agent's key for its credential and headers`, async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    const server = await acceptUpgrades(port);
    const key = generateAgentKey();
    const client = new TunnelClient({
      controllerUrl: `http://127.0.0.1:${port}`,
      ca: '',
      credential: `ztka_AbCdEfGhIjKl.${'s'.repeat(43)}`,
      privateKey: createPrivateKey(key.privateKeyPem),
      agentVersion: 'test',
      kubeVersion: 'v0.0.0',
      clusterIdentity: 'uid-1',
      jitNamespace: 'ztka-jit',
      transport,
      onStream: () => {},
      log: pino({ level: 'silent' }),
      backoff: { initialMs: 20, maxMs: 40 },
    });
    try {
      client.start();
      await client.connected;
      server.hangUp();
      while (server.proofs.length < 2) await new Promise((r) => setTimeout(r, 20));
      const publicKey = parseAgentPublicKey(key.publicKey);
      assert.ok(publicKey);
      const claims = { credentialId: 'AbCdEfGhIjKl', clusterIdentity: 'uid-1', jitNamespace: 'ztka-jit' };
      const checks = server.proofs.map((p) => verifyAgentProof(p, publicKey, claims, Date.now()));
      for (const check of checks) assert.equal(check.ok, true, JSON.stringify(check));
      const nonces = new Set(checks.map((c) => (c.ok ? c.nonce : '')));
      assert.equal(nonces.size, checks.length, 'a proof was sent twice');
    } finally {
      client.stop();
      await server.close();
    }
  });
}
