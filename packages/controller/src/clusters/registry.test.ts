import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { Kysely } from 'kysely';
import { generateAgentKey } from '@ztka/protocol';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import type { Database } from '../store/schema.js';
import { hashSecret, parseToken } from '../store/secrets.js';
import {
  AGENT_CREDENTIAL_PREFIX,
  BOOTSTRAP_TOKEN_PREFIX,
  ClusterRegistry,
  DEFAULT_BOOTSTRAP_TOKEN_TTL_MS,
  RegistryError,
} from './registry.js';

const T0 = Date.UTC(2025, 0, 1);
const UID_A = '3f6b1a52-8c1e-4f7a-9d2b-0a1b2c3d4e5f';
const UID_B = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
/** An agent's public key: registration binds the credential to it. */
const KEY = generateAgentKey().publicKey;

interface Fixture {
  db: Kysely<Database>;
  registry: ClusterRegistry;
  clock: { now: number };
}

type TestContext = { after: (fn: () => unknown) => void };

async function fixture(t: TestContext, file = ':memory:', ttlMs?: number): Promise<Fixture> {
  const db = openSqlite(file);
  t.after(() => db.destroy());
  await migrateToLatest(db);
  const clock = { now: T0 };
  const registry = new ClusterRegistry(
    db,
    () => clock.now,
    ttlMs === undefined ? {} : { bootstrapTokenTtlMs: ttlMs },
  );
  await registry.ensureOrgAndProject('default', 'web');
  return { db, registry, clock };
}

function tempFile(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-registry-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'ztka.db');
}

function isRegistryError(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof RegistryError, `expected RegistryError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

const INVALID_TOKEN_MESSAGE = 'the bootstrap token is invalid, expired or already used';

function isInvalidToken(err: unknown): boolean {
  assert.ok(err instanceof RegistryError, `expected RegistryError, got ${String(err)}`);
  assert.equal(err.code, 'invalid_token');
  assert.equal(err.message, INVALID_TOKEN_MESSAGE);
  return true;
}

test('ensureOrgAndProject is idempotent and validates names', async (t) => {
  const { registry, db } = await fixture(t);
  const first = await registry.ensureOrgAndProject('acme', 'web');
  const again = await registry.ensureOrgAndProject('acme', 'web');
  assert.deepEqual(again, first);
  const other = await registry.ensureOrgAndProject('acme', 'staging');
  assert.notEqual(other.projectId, first.projectId);
  assert.equal(other.orgId, first.orgId);
  const otherOrg = await registry.ensureOrgAndProject('globex', 'web');
  assert.notEqual(otherOrg.orgId, first.orgId);
  assert.notEqual(otherOrg.projectId, first.projectId);
  // 'default'/'web' from the fixture, plus acme and globex.
  assert.equal((await db.selectFrom('orgs').selectAll().execute()).length, 3);
  assert.equal((await db.selectFrom('projects').selectAll().execute()).length, 4);
  await assert.rejects(registry.ensureOrgAndProject('Acme', 'web'), isRegistryError('invalid_name'));
  await assert.rejects(registry.ensureOrgAndProject('acme', ''), isRegistryError('invalid_name'));
});

test('createCluster returns the cluster view and a bootstrap token expiring after 24h', async (t) => {
  const { registry } = await fixture(t);
  const { cluster, bootstrapToken } = await registry.createCluster({ project: 'web', name: 'prod-eu-1' });
  assert.deepEqual(cluster, {
    name: 'prod-eu-1',
    org: 'default',
    project: 'web',
    identity: null,
    connected: false,
    lastSeenAt: null,
    agentVersion: null,
    kubeVersion: null,
    createdAt: new Date(T0).toISOString(),
  });
  assert.ok(parseToken(bootstrapToken.token, BOOTSTRAP_TOKEN_PREFIX));
  assert.equal(bootstrapToken.expiresAt, new Date(T0 + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS).toISOString());
  assert.equal(DEFAULT_BOOTSTRAP_TOKEN_TTL_MS, 24 * 60 * 60 * 1000);
  assert.deepEqual(await registry.getCluster('prod-eu-1'), cluster);
  assert.equal(await registry.getCluster('nope'), undefined);
});

test('createCluster validates the name as a DNS-1123 label', async (t) => {
  const { registry } = await fixture(t);
  for (const name of ['', 'Prod', 'prod_1', '-prod', 'prod-', 'prod.eu', 'a'.repeat(64), 'pröd', 'a b']) {
    await assert.rejects(registry.createCluster({ project: 'web', name }), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, 'invalid_name');
      assert.match(err.message, /not a valid DNS-1123 label/);
      return true;
    });
  }
  for (const name of ['a', '0', 'a'.repeat(63), 'prod-eu-1', '1-2']) {
    await registry.createCluster({ project: 'web', name });
  }
  assert.equal((await registry.listClusters()).length, 5);
});

test('createCluster refuses a duplicate name, even in another project, and an unknown project', async (t) => {
  const { registry } = await fixture(t);
  await registry.createCluster({ project: 'web', name: 'prod' });
  await assert.rejects(registry.createCluster({ project: 'web', name: 'prod' }), isRegistryError('conflict'));
  await registry.ensureOrgAndProject('globex', 'web');
  await assert.rejects(
    registry.createCluster({ org: 'globex', project: 'web', name: 'prod' }),
    isRegistryError('conflict'),
  );
  await assert.rejects(registry.createCluster({ project: 'nope', name: 'x' }), isRegistryError('not_found'));
  await assert.rejects(
    registry.createCluster({ org: 'nope', project: 'web', name: 'x' }),
    isRegistryError('not_found'),
  );
  // The failed attempts left nothing behind.
  assert.deepEqual(
    (await registry.listClusters()).map((c) => c.name),
    ['prod'],
  );
});

test('a bootstrap token is exchanged once for a credential that authenticates as its cluster', async (t) => {
  const { registry } = await fixture(t);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  const exchanged = await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY);
  assert.equal(exchanged.clusterName, 'alpha');
  assert.ok(parseToken(exchanged.agentCredential, AGENT_CREDENTIAL_PREFIX));

  const agent = await registry.authenticateAgent(exchanged.agentCredential);
  assert.equal(agent?.clusterName, 'alpha');
  assert.equal(agent?.identity, UID_A);
  assert.equal((await registry.getCluster('alpha'))?.identity, UID_A);

  // Replaying the token fails, with the same error as any other bad token.
  await assert.rejects(registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY), isInvalidToken);
});

test('two concurrent exchanges of one token: exactly one wins', async (t) => {
  const { registry } = await fixture(t);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  const results = await Promise.allSettled(
    Array.from({ length: 8 }, () => registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY)),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r) => r.status === 'rejected');
  assert.equal(won.length, 1);
  assert.equal(lost.length, 7);
  for (const r of lost) isInvalidToken(r.reason);
});

test('two concurrent exchanges over separate connections to one database file: exactly one wins', async (t) => {
  const file = tempFile(t);
  const setup = await fixture(t, file);
  const { bootstrapToken } = await setup.registry.createCluster({ project: 'web', name: 'alpha' });
  // Two independent connections, as two controller processes would have. A short busy timeout keeps the
  // loser from waiting long on the winner's write lock (both run on this one thread).
  const dbs = [openSqlite(file, { busyTimeoutMs: 20 }), openSqlite(file, { busyTimeoutMs: 20 })];
  t.after(() => Promise.all(dbs.map((db) => db.destroy())));
  const registries = dbs.map((db) => new ClusterRegistry(db, () => T0));
  const results = await Promise.allSettled(
    registries.map((r) => r.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY)),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
  // On one thread the loser cannot wait for the winner to commit, so it may see the winner's write lock
  // (SQLITE_BUSY) rather than the used token; either way it got no credential, and a retry now fails.
  for (const r of results) {
    if (r.status === 'rejected' && !(r.reason instanceof RegistryError)) {
      assert.equal((r.reason as { code?: unknown }).code, 'SQLITE_BUSY');
    } else if (r.status === 'rejected') {
      isInvalidToken(r.reason);
    }
  }
  for (const r of registries) {
    await assert.rejects(r.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY), isInvalidToken);
  }
  const credentials = await setup.db.selectFrom('agent_credentials').selectAll().execute();
  assert.equal(credentials.length, 1);
  assert.ok(await setup.registry.authenticateAgent(won[0]!.value.agentCredential));
});

test('concurrent exchanges from separate threads, each with its own connection: exactly one wins', async (t) => {
  const file = tempFile(t);
  const setup = await fixture(t, file);
  const registryUrl = new URL('./registry.js', import.meta.url).href;
  const dbUrl = new URL('../store/db.js', import.meta.url).href;
  // Each worker is its own thread with its own connection, like separate controller processes: a loser waits
  // (busy_timeout) for the winner's commit and must then find the token used.
  const worker = `
    const { parentPort, workerData } = require('node:worker_threads');
    const KEY = workerData.key;
    (async () => {
      const { ClusterRegistry } = await import(workerData.registryUrl);
      const { openSqlite } = await import(workerData.dbUrl);
      const db = openSqlite(workerData.file);
      const registry = new ClusterRegistry(db);
      const start = new Int32Array(workerData.start);
      Atomics.wait(start, 0, 0);
      try {
        const r = await registry.exchangeBootstrapToken(workerData.token, workerData.identity, KEY);
        parentPort.postMessage({ ok: true, credential: r.agentCredential });
      } catch (err) {
        parentPort.postMessage({ ok: false, code: err.code, message: err.message });
      } finally {
        await db.destroy();
      }
    })();
  `;
  // The workers use the real clock, so the tokens must too.
  const registry = new ClusterRegistry(setup.db);
  for (let round = 0; round < 3; round++) {
    const { bootstrapToken } = await registry.createCluster({ project: 'web', name: `round-${round}` });
    const start = new SharedArrayBuffer(4);
    const outcomes = Array.from({ length: 4 }, () => {
      const w = new Worker(worker, {
        eval: true,
        workerData: {
          registryUrl,
          dbUrl,
          file,
          start,
          token: bootstrapToken.token,
          identity: UID_A,
          key: KEY,
        },
      });
      return new Promise<{ ok: boolean; code?: string; message?: string; credential?: string }>(
        (resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        },
      ).finally(() => w.terminate());
    });
    // Let the workers load and park on the barrier, then release them together.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const view = new Int32Array(start);
    Atomics.store(view, 0, 1);
    Atomics.notify(view, 0);
    const results = await Promise.all(outcomes);
    const winners = results.filter((r) => r.ok);
    assert.equal(winners.length, 1, JSON.stringify(results));
    for (const r of results.filter((x) => !x.ok)) {
      assert.deepEqual(
        { code: r.code, message: r.message },
        { code: 'invalid_token', message: INVALID_TOKEN_MESSAGE },
      );
    }
    const agent = await registry.authenticateAgent(winners[0]?.credential ?? '');
    assert.equal(agent?.clusterName, `round-${round}`);
  }
});

test('an expired token is refused', async (t) => {
  const { registry, clock } = await fixture(t, ':memory:', 60_000);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  assert.equal(bootstrapToken.expiresAt, new Date(T0 + 60_000).toISOString());
  clock.now = T0 + 60_000; // expiry is exclusive: at expires_at the token is dead
  await assert.rejects(registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY), isInvalidToken);
  clock.now = T0 + 59_999;
  // The refused attempt did not consume it: just before expiry it still works.
  assert.equal(
    (await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY)).clusterName,
    'alpha',
  );
});

test('the default TTL is 24h', async (t) => {
  const { registry, clock } = await fixture(t);
  const a = await registry.createCluster({ project: 'web', name: 'alpha' });
  const b = await registry.createCluster({ project: 'web', name: 'beta' });
  clock.now = T0 + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS;
  await assert.rejects(registry.exchangeBootstrapToken(a.bootstrapToken.token, UID_A, KEY), isInvalidToken);
  clock.now = T0 + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS - 1;
  await registry.exchangeBootstrapToken(b.bootstrapToken.token, UID_B, KEY);
});

test('unknown, tampered and malformed tokens are refused with one indistinguishable error', async (t) => {
  const { registry } = await fixture(t);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  const token = bootstrapToken.token;
  const parsed = parseToken(token, BOOTSTRAP_TOKEN_PREFIX);
  assert.ok(parsed);
  const flipped = parsed.secret.startsWith('A') ? `B${parsed.secret.slice(1)}` : `A${parsed.secret.slice(1)}`;
  const otherId = parsed.id.startsWith('A') ? `B${parsed.id.slice(1)}` : `A${parsed.id.slice(1)}`;
  const bad = [
    '',
    'nonsense',
    `${BOOTSTRAP_TOKEN_PREFIX}_${parsed.id}.${flipped}`, // right id, wrong secret
    `${BOOTSTRAP_TOKEN_PREFIX}_${otherId}.${parsed.secret}`, // unknown id
    `${AGENT_CREDENTIAL_PREFIX}_${parsed.id}.${parsed.secret}`, // wrong kind
    `${token}x`,
    token.replace('.', ''),
    'x'.repeat(1_000_000),
    `${token.slice(0, -1)}é`,
  ];
  for (const attempt of bad) {
    await assert.rejects(registry.exchangeBootstrapToken(attempt, UID_A, KEY), isInvalidToken);
  }
  // None of that consumed the real token.
  assert.equal((await registry.exchangeBootstrapToken(token, UID_A, KEY)).clusterName, 'alpha');
});

test('identity: bound on first exchange; a token of cluster A used from cluster B fails', async (t) => {
  const { registry } = await fixture(t);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY);

  // A new token for alpha, presented from another Kubernetes cluster.
  const second = await registry.newBootstrapToken('alpha');
  await assert.rejects(
    registry.exchangeBootstrapToken(second.token, UID_B, KEY),
    isRegistryError('identity_mismatch'),
  );
  const cluster = await registry.getCluster('alpha');
  assert.equal(cluster?.identity, UID_A);
  // The token presented from the wrong cluster is burnt: not even the right cluster can use it now.
  await assert.rejects(registry.exchangeBootstrapToken(second.token, UID_A, KEY), isInvalidToken);

  // From the right cluster a fresh token works and rotates the credential.
  const third = await registry.newBootstrapToken('alpha');
  const again = await registry.exchangeBootstrapToken(third.token, UID_A, KEY);
  assert.equal((await registry.authenticateAgent(again.agentCredential))?.identity, UID_A);
});

test('a malformed identity is refused without consuming the token', async (t) => {
  const { registry } = await fixture(t);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  for (const identity of ['', ' ', 'a'.repeat(129), 'uid with spaces', 'ü']) {
    await assert.rejects(
      registry.exchangeBootstrapToken(bootstrapToken.token, identity, KEY),
      isRegistryError('invalid_argument'),
    );
  }
  await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY);
});

test('newBootstrapToken revokes the earlier unused token and refuses unknown clusters', async (t) => {
  const { registry, clock } = await fixture(t);
  const { bootstrapToken: first } = await registry.createCluster({ project: 'web', name: 'alpha' });
  clock.now = T0 + 1000;
  const second = await registry.newBootstrapToken('alpha');
  assert.notEqual(second.token, first.token);
  assert.equal(second.expiresAt, new Date(T0 + 1000 + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS).toISOString());
  await assert.rejects(registry.exchangeBootstrapToken(first.token, UID_A, KEY), isInvalidToken);
  assert.equal((await registry.exchangeBootstrapToken(second.token, UID_A, KEY)).clusterName, 'alpha');
  await assert.rejects(registry.newBootstrapToken('nope'), isRegistryError('not_found'));
});

test("the credential is bound to the agent's public key; none, or one not Ed25519, exchanges nothing", async (t) => {
  const { registry, db } = await fixture(t);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'der' })
    .toString('base64url');
  for (const bad of ['', 'AAAA', p256, generateAgentKey().privateKeyPem, undefined as unknown as string])
    await assert.rejects(
      registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, bad),
      isRegistryError('invalid_argument'),
    );
  // Refused before the token is spent.
  const { agentCredential } = await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY);
  const agent = await registry.authenticateAgent(agentCredential);
  assert.equal(agent?.publicKey, KEY);
  assert.equal(agent?.credentialId, parseToken(agentCredential, AGENT_CREDENTIAL_PREFIX)?.id);

  // A credential issued before agents held keys authenticates with no key, for the caller to refuse.
  await db.updateTable('agent_credentials').set({ public_key: null }).execute();
  assert.equal((await registry.authenticateAgent(agentCredential))?.publicKey, null);
});

test('each key proof nonce is accepted once, until it expires, and is gone with its credential', async (t) => {
  const { registry, db, clock } = await fixture(t);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  const { agentCredential } = await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY);
  const id = parseToken(agentCredential, AGENT_CREDENTIAL_PREFIX)?.id ?? '';
  const expires = T0 + 60_000;
  assert.equal(await registry.consumeAgentProof(id, 'n1', expires), true);
  assert.equal(await registry.consumeAgentProof(id, 'n1', expires), false);
  assert.equal(await registry.consumeAgentProof(id, 'n2', expires), true);
  // Concurrent uses of one nonce: exactly one is first.
  const raced = await Promise.all(
    Array.from({ length: 8 }, () => registry.consumeAgentProof(id, 'n3', expires)),
  );
  assert.equal(raced.filter(Boolean).length, 1);

  // Past its expiry a nonce is pruned (its proof is refused by its date by then).
  clock.now = expires + 1;
  assert.equal(await registry.consumeAgentProof(id, 'n4', clock.now + 60_000), true);
  const kept = await db.selectFrom('agent_proof_nonces').select('nonce').execute();
  assert.deepEqual(
    kept.map((r) => r.nonce),
    ['n4'],
  );
  await registry.deleteCluster('alpha');
  assert.deepEqual(await db.selectFrom('agent_proof_nonces').selectAll().execute(), []);
});

test('a credential of cluster A authenticates only as A', async (t) => {
  const { registry } = await fixture(t);
  const a = await registry.createCluster({ project: 'web', name: 'alpha' });
  const b = await registry.createCluster({ project: 'web', name: 'beta' });
  const credA = (await registry.exchangeBootstrapToken(a.bootstrapToken.token, UID_A, KEY)).agentCredential;
  const credB = (await registry.exchangeBootstrapToken(b.bootstrapToken.token, UID_B, KEY)).agentCredential;
  const agentA = await registry.authenticateAgent(credA);
  const agentB = await registry.authenticateAgent(credB);
  assert.deepEqual(
    { name: agentA?.clusterName, identity: agentA?.identity },
    { name: 'alpha', identity: UID_A },
  );
  assert.deepEqual(
    { name: agentB?.clusterName, identity: agentB?.identity },
    { name: 'beta', identity: UID_B },
  );
  assert.notEqual(agentA?.clusterId, agentB?.clusterId);

  // Mixing A's id with B's secret (or vice versa) authenticates as nobody.
  const pa = parseToken(credA, AGENT_CREDENTIAL_PREFIX);
  const pb = parseToken(credB, AGENT_CREDENTIAL_PREFIX);
  assert.ok(pa && pb);
  assert.equal(
    await registry.authenticateAgent(`${AGENT_CREDENTIAL_PREFIX}_${pa.id}.${pb.secret}`),
    undefined,
  );
  assert.equal(
    await registry.authenticateAgent(`${AGENT_CREDENTIAL_PREFIX}_${pb.id}.${pa.secret}`),
    undefined,
  );
  // A bootstrap token is not a credential, and junk is nothing.
  const c = await registry.createCluster({ project: 'web', name: 'gamma' });
  assert.equal(await registry.authenticateAgent(c.bootstrapToken.token), undefined);
  for (const junk of ['', 'ztka_', 'x'.repeat(100_000), `${credA} `, `${credA.slice(0, -1)}💥`]) {
    assert.equal(await registry.authenticateAgent(junk), undefined);
  }
});

test('revoked credentials are refused; re-bootstrapping rotates the credential', async (t) => {
  const { registry } = await fixture(t);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  const first = (await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY)).agentCredential;
  assert.ok(await registry.authenticateAgent(first));

  const second = (
    await registry.exchangeBootstrapToken((await registry.newBootstrapToken('alpha')).token, UID_A, KEY)
  ).agentCredential;
  assert.equal(await registry.authenticateAgent(first), undefined);
  assert.equal((await registry.authenticateAgent(second))?.clusterName, 'alpha');

  assert.equal(await registry.revokeAgentCredentials('alpha'), 1);
  assert.equal(await registry.authenticateAgent(second), undefined);
  assert.equal(await registry.revokeAgentCredentials('alpha'), 0);
  await assert.rejects(registry.revokeAgentCredentials('nope'), isRegistryError('not_found'));
});

test('status marks are visible through getCluster and listClusters', async (t) => {
  const { registry, clock } = await fixture(t);
  await registry.createCluster({ project: 'web', name: 'alpha' });
  clock.now = T0 + 10_000;
  await registry.recordAgent('alpha', { agentVersion: '0.1.0', kubeVersion: 'v1.31.2' });
  assert.deepEqual(await registry.getCluster('alpha'), {
    name: 'alpha',
    org: 'default',
    project: 'web',
    identity: null,
    // Connected only while a replica holds its tunnel (peers/locations.test.ts).
    connected: false,
    lastSeenAt: new Date(T0 + 10_000).toISOString(),
    agentVersion: '0.1.0',
    kubeVersion: 'v1.31.2',
    createdAt: new Date(T0).toISOString(),
  });

  clock.now = T0 + 20_000;
  await registry.markSeen('alpha');
  let view = await registry.getCluster('alpha');
  assert.equal(view?.lastSeenAt, new Date(T0 + 20_000).toISOString());

  // Reported versions are normalised, never refused: a tunnel must not fail over a missing header.
  await registry.recordAgent('alpha', { agentVersion: '', kubeVersion: ` ${'v'.repeat(300)} ` });
  view = await registry.getCluster('alpha');
  assert.equal(view?.agentVersion, null);
  assert.equal(view?.kubeVersion, 'v'.repeat(256));

  // Marks for an unknown cluster are no-ops (and create nothing).
  await registry.markSeen('nope');
  await registry.recordAgent('nope', { agentVersion: '1', kubeVersion: '1' });
  assert.equal(await registry.getCluster('nope'), undefined);
  assert.equal((await registry.listClusters()).length, 1);
});

test('listClusters filters by project and orders by name', async (t) => {
  const { registry } = await fixture(t);
  await registry.ensureOrgAndProject('default', 'staging');
  await registry.ensureOrgAndProject('acme', 'web');
  await registry.createCluster({ project: 'web', name: 'zulu' });
  await registry.createCluster({ project: 'staging', name: 'mike' });
  await registry.createCluster({ project: 'web', name: 'alpha' });
  await registry.createCluster({ org: 'acme', project: 'web', name: 'kilo' });
  assert.deepEqual(
    (await registry.listClusters()).map((c) => [c.name, c.org, c.project]),
    [
      ['alpha', 'default', 'web'],
      ['kilo', 'acme', 'web'],
      ['mike', 'default', 'staging'],
      ['zulu', 'default', 'web'],
    ],
  );
  assert.deepEqual(
    (await registry.listClusters('web')).map((c) => c.name),
    ['alpha', 'kilo', 'zulu'],
  );
  assert.deepEqual(
    (await registry.listClusters('web', 'default')).map((c) => c.name),
    ['alpha', 'zulu'],
  );
  assert.deepEqual(
    (await registry.listClusters('staging')).map((c) => c.name),
    ['mike'],
  );
  assert.deepEqual(await registry.listClusters('no-such-project'), []);
});

test('only hashes are stored, never the secrets (file database, raw tables)', async (t) => {
  const file = tempFile(t);
  const { registry, db } = await fixture(t, file);
  const { bootstrapToken } = await registry.createCluster({ project: 'web', name: 'alpha' });
  const spare = await registry.createCluster({ project: 'web', name: 'beta' });
  const { agentCredential } = await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY);

  const tokenRows = await db.selectFrom('bootstrap_tokens').selectAll().execute();
  const credentialRows = await db.selectFrom('agent_credentials').selectAll().execute();
  assert.equal(tokenRows.length, 2);
  assert.equal(credentialRows.length, 1);
  const dump = JSON.stringify([
    tokenRows,
    credentialRows,
    await db.selectFrom('clusters').selectAll().execute(),
  ]);
  for (const token of [bootstrapToken.token, spare.bootstrapToken.token, agentCredential]) {
    const parsed = parseToken(
      token,
      token === agentCredential ? AGENT_CREDENTIAL_PREFIX : BOOTSTRAP_TOKEN_PREFIX,
    );
    assert.ok(parsed);
    assert.equal(dump.includes(parsed.secret), false, 'a secret was stored in clear');
    assert.equal(dump.includes(token), false, 'a token was stored in clear');
    assert.ok(dump.includes(hashSecret(parsed.secret)), 'the hash of the secret is stored');
  }

  // And not in the database file either (including its WAL), byte for byte.
  await db.destroy();
  const bytes = Buffer.concat(
    [file, `${file}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)),
  ).toString('latin1');
  assert.ok(bytes.includes('alpha'), 'sanity: the database file holds the data');
  for (const token of [bootstrapToken.token, spare.bootstrapToken.token, agentCredential]) {
    assert.equal(bytes.includes(token.slice(token.indexOf('.') + 1)), false);
  }
});

test('the constructor takes a clock and/or options, and rejects a non-positive TTL', async (t) => {
  const { db } = await fixture(t);
  assert.throws(() => new ClusterRegistry(db, () => T0, { bootstrapTokenTtlMs: 0 }), RangeError);
  assert.throws(() => new ClusterRegistry(db, { bootstrapTokenTtlMs: 1.5 }), RangeError);
  const ttl = 3_600_000;
  const viaOptions = new ClusterRegistry(db, { bootstrapTokenTtlMs: ttl, clock: () => T0 });
  const a = await viaOptions.createCluster({ project: 'web', name: 'alpha' });
  assert.equal(a.bootstrapToken.expiresAt, new Date(T0 + ttl).toISOString());
  const viaClock = new ClusterRegistry(db, () => T0 + 1, { bootstrapTokenTtlMs: ttl });
  assert.equal((await viaClock.newBootstrapToken('alpha')).expiresAt, new Date(T0 + 1 + ttl).toISOString());
  const byDefault = new ClusterRegistry(db);
  const before = Date.now();
  const b = await byDefault.createCluster({ project: 'web', name: 'beta' });
  const expires = Date.parse(b.bootstrapToken.expiresAt);
  assert.ok(
    expires >= before + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS &&
      expires <= Date.now() + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS,
  );
});
