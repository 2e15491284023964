// The cluster registry on SQLite: the contract every database runs (store-contract.ts), and what only a
// file database shows: separate connections and threads racing on one file, and the bytes on disk.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { ZtkaError } from '@ztka/protocol';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import { hashSecret, parseToken } from '../store/secrets.js';
import { AGENT_CREDENTIAL_PREFIX, AgentCredentials } from './agent-credentials.js';
import { BOOTSTRAP_TOKEN_PREFIX, BootstrapTokens } from './bootstrap-tokens.js';
import { ClusterStore } from './clusters.js';
import {
  INVALID_TOKEN_MESSAGE,
  KEY,
  T0,
  UID_A,
  clusterStoreContract,
  isInvalidToken,
  registryFixture,
} from './store-contract.js';

clusterStoreContract('SQLite', async () => {
  const db = openSqlite(':memory:');
  await migrateToLatest(db);
  return { db, close: () => db.destroy() };
});

async function fixture(t: TestContext, file: string) {
  const db = openSqlite(file);
  t.after(() => db.destroy());
  await migrateToLatest(db);
  return registryFixture(db);
}

function tempFile(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-registry-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'ztka.db');
}

test('two concurrent exchanges over separate connections to one database file: exactly one wins', async (t) => {
  const file = tempFile(t);
  const setup = await fixture(t, file);
  const { bootstrapToken } = await setup.clusters.create({ project: 'web', name: 'alpha' });
  // Two independent connections, as two controller processes would have. A short busy timeout keeps the
  // loser from waiting long on the winner's write lock (both run on this one thread).
  const dbs = [openSqlite(file, { busyTimeoutMs: 20 }), openSqlite(file, { busyTimeoutMs: 20 })];
  t.after(() => Promise.all(dbs.map((db) => db.destroy())));
  const registries = dbs.map((db) => new BootstrapTokens(db, { clock: () => T0 }));
  const results = await Promise.allSettled(
    registries.map((r) => r.exchange(bootstrapToken.token, UID_A, KEY)),
  );
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
  // On one thread the loser cannot wait for the winner to commit, so it may see the winner's write lock
  // (SQLITE_BUSY) rather than the used token; either way it got no credential, and a retry now fails.
  for (const r of results) {
    if (r.status === 'rejected' && !(r.reason instanceof ZtkaError)) {
      assert.equal((r.reason as { code?: unknown }).code, 'SQLITE_BUSY');
    } else if (r.status === 'rejected') {
      isInvalidToken(r.reason);
    }
  }
  for (const r of registries) {
    await assert.rejects(r.exchange(bootstrapToken.token, UID_A, KEY), isInvalidToken);
  }
  const credentials = await setup.db.selectFrom('agent_credentials').selectAll().execute();
  assert.equal(credentials.length, 1);
  assert.ok(await setup.agents.authenticateAgent(won[0]!.value.agentCredential));
});

test('concurrent exchanges from separate threads, each with its own connection: exactly one wins', async (t) => {
  const file = tempFile(t);
  const setup = await fixture(t, file);
  const tokensUrl = new URL('./bootstrap-tokens.js', import.meta.url).href;
  const dbUrl = new URL('../store/db.js', import.meta.url).href;
  // Each worker is its own thread with its own connection, like separate controller processes: a loser waits
  // (busy_timeout) for the winner's commit and must then find the token used.
  const worker = `
    const { parentPort, workerData } = require('node:worker_threads');
    const KEY = workerData.key;
    (async () => {
      const { BootstrapTokens } = await import(workerData.tokensUrl);
      const { openSqlite } = await import(workerData.dbUrl);
      const db = openSqlite(workerData.file);
      const tokens = new BootstrapTokens(db);
      const start = new Int32Array(workerData.start);
      Atomics.wait(start, 0, 0);
      try {
        const r = await tokens.exchange(workerData.token, workerData.identity, KEY);
        parentPort.postMessage({ ok: true, credential: r.agentCredential });
      } catch (err) {
        parentPort.postMessage({ ok: false, code: err.code, message: err.message });
      } finally {
        await db.destroy();
      }
    })();
  `;
  // The workers use the real clock, so the tokens must too.
  const clusters = new ClusterStore(setup.db, new BootstrapTokens(setup.db));
  const agents = new AgentCredentials(setup.db);
  for (let round = 0; round < 3; round++) {
    const { bootstrapToken } = await clusters.create({ project: 'web', name: `round-${round}` });
    const start = new SharedArrayBuffer(4);
    const outcomes = Array.from({ length: 4 }, () => {
      const w = new Worker(worker, {
        eval: true,
        workerData: {
          tokensUrl,
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
        { code: 'unauthorized', message: INVALID_TOKEN_MESSAGE },
      );
    }
    const agent = await agents.authenticateAgent(winners[0]?.credential ?? '');
    assert.equal(agent?.clusterName, `round-${round}`);
  }
});

test('only hashes are stored, never the secrets (file database, raw tables)', async (t) => {
  const file = tempFile(t);
  const { clusters, tokens, db } = await fixture(t, file);
  const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
  const spare = await clusters.create({ project: 'web', name: 'beta' });
  const { agentCredential } = await tokens.exchange(bootstrapToken.token, UID_A, KEY);

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
