import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openSqlite, withStatementCache } from './db.js';
import { migrateToLatest } from './migrations.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-db-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('openSqlite on a file uses WAL, enforces foreign keys and persists across reopen', async (t) => {
  const file = path.join(tempDir(t), 'ztka.db');
  const db = openSqlite(file);
  await migrateToLatest(db);
  await db.insertInto('orgs').values({ id: 'o1', name: 'acme', created_at: 1_700_000_000_000 }).execute();
  // A project pointing at a missing org violates the foreign key.
  await assert.rejects(
    db.insertInto('projects').values({ id: 'p1', org_id: 'nope', name: 'x', created_at: 1 }).execute(),
    /FOREIGN KEY constraint failed/,
  );
  await db.destroy();
  // WAL mode is recorded in the database file itself.
  const raw = new BetterSqlite3(file, { readonly: true });
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  raw.close();

  const again = openSqlite(file);
  t.after(() => again.destroy());
  const rows = await again.selectFrom('orgs').selectAll().execute();
  assert.deepEqual(rows, [{ id: 'o1', name: 'acme', created_at: 1_700_000_000_000 }]);
  // Timestamps come back as exact numbers.
  assert.equal(typeof rows[0]?.created_at, 'number');
});

test('openSqlite sets WAL journal mode on a file database', async (t) => {
  const file = path.join(tempDir(t), 'wal.db');
  const db = openSqlite(file);
  t.after(() => db.destroy());
  await migrateToLatest(db);
  // The -wal file exists only in WAL mode once something has been written.
  assert.equal(fs.existsSync(`${file}-wal`), true);
});

test("openSqlite accepts ':memory:'", async (t) => {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  await migrateToLatest(db);
  await db.insertInto('orgs').values({ id: 'o1', name: 'acme', created_at: 5 }).execute();
  assert.equal((await db.selectFrom('orgs').select('name').execute()).length, 1);
});

test('openSqlite rejects a bad busy timeout', () => {
  assert.throws(() => openSqlite(':memory:', { busyTimeoutMs: -1 }), RangeError);
});

test('statements are prepared once per SQL text, and a busy one is not handed out again', () => {
  const sqlite = new BetterSqlite3(':memory:');
  const cached = withStatementCache(sqlite, 2);
  sqlite.exec('CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3)');
  const first = cached.prepare('SELECT v FROM t');
  assert.equal(cached.prepare('SELECT v FROM t'), first);
  // While an iteration holds it, the same text gets a fresh statement, and both read correctly.
  const iter = first.iterate([]);
  iter.next();
  const other = cached.prepare('SELECT v FROM t');
  assert.notEqual(other, first);
  assert.deepEqual(other.all([]), [{ v: 1 }, { v: 2 }, { v: 3 }]);
  assert.deepEqual([...iter], [{ v: 2 }, { v: 3 }]);
  assert.equal(cached.prepare('SELECT v FROM t'), first);
  // The least recently used text is dropped beyond the bound.
  cached.prepare('SELECT 1');
  cached.prepare('SELECT 2');
  assert.notEqual(cached.prepare('SELECT v FROM t'), first);
  cached.close();
});
