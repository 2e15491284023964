import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrateToLatest } from './migrations.js';
import { dialectOf, openStore, storeDialect } from './open.js';
import { openPostgres } from './postgres.js';

test('storeDialect: postgres:// and postgresql:// URLs are PostgreSQL, paths and :memory: are SQLite', () => {
  assert.equal(storeDialect('postgres://ztka@db.internal:5432/ztka'), 'postgres');
  assert.equal(storeDialect('postgresql://ztka:secret@127.0.0.1/ztka?sslmode=require'), 'postgres');
  assert.equal(storeDialect('POSTGRES://ztka@db/ztka'), 'postgres');
  assert.equal(storeDialect(':memory:'), 'sqlite');
  assert.equal(storeDialect('/var/lib/ztka/ztka.db'), 'sqlite');
  assert.equal(storeDialect('./ztka-data/ztka.db'), 'sqlite');
  assert.equal(storeDialect('postgres.db'), 'sqlite');
});

test('storeDialect refuses an empty target and other URL schemes, without echoing the URL', () => {
  assert.throws(() => storeDialect(''), /empty/);
  assert.throws(
    () => storeDialect('mysql://root:hunter2@db/ztka'),
    (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /unsupported store URL scheme "mysql:\/\/"/);
      assert.doesNotMatch(err.message, /hunter2/);
      return true;
    },
  );
  assert.throws(() => storeDialect('postgress://db/ztka'), /unsupported store URL scheme/);
});

test("openStore(':memory:') opens SQLite", async (t) => {
  const db = openStore(':memory:');
  t.after(() => db.destroy());
  await migrateToLatest(db);
  await db.insertInto('orgs').values({ id: 'o1', name: 'acme', created_at: 1_700_000_000_123 }).execute();
  assert.deepEqual(await db.selectFrom('orgs').select('created_at').execute(), [
    { created_at: 1_700_000_000_123 },
  ]);
  assert.equal(dialectOf(db), 'sqlite');
});

test('openStore on a postgres:// URL connects lazily and fails on the first query, not on open', async () => {
  // Port 1 on loopback: nothing listens there, so the first query is refused.
  const db = openStore('postgres://ztka@127.0.0.1:1/ztka');
  assert.equal(dialectOf(db), 'postgres');
  await assert.rejects(db.selectFrom('orgs').selectAll().execute(), /ECONNREFUSED/);
  await db.destroy();
});

test('openPostgres rejects a bad pool size', () => {
  assert.throws(() => openPostgres('postgres://ztka@127.0.0.1:1/ztka', { max: 0 }), RangeError);
  assert.throws(() => openPostgres('postgres://ztka@127.0.0.1:1/ztka', { max: 1.5 }), RangeError);
});
