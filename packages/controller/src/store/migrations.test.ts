import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Migrator, sql } from 'kysely';
import { openSqlite } from './db.js';
import { migrateToLatest, migrations } from './migrations.js';

const TABLES = [
  'agent_credentials',
  'agent_proof_nonces',
  'audit_checkpoints',
  'audit_records',
  'bootstrap_tokens',
  'clusters',
  'controller_replicas',
  'credentials',
  'group_members',
  'groups',
  'org_settings',
  'orgs',
  'peer_authority',
  'projects',
  'role_assignments',
  'sso_identities',
  'sso_logins',
  'sso_providers',
  'tunnel_locations',
  'user_totp',
  'users',
];

async function userTables(db: ReturnType<typeof openSqlite>): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables.map((t) => t.name).sort();
}

test('migrateToLatest creates the schema and is idempotent (in memory)', async (t) => {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  assert.deepEqual(await migrateToLatest(db), Object.keys(migrations));
  assert.deepEqual(await userTables(db), TABLES);
  assert.deepEqual(await migrateToLatest(db), []);
  assert.deepEqual(await userTables(db), TABLES);

  // Every primary key is NOT NULL (SQLite would otherwise allow NULL in a text primary key).
  for (const table of await db.introspection.getTables()) {
    const id = table.columns.find((c) => c.name === 'id');
    if (id) assert.equal(id.isNullable, false, table.name);
  }

  const clusters = (await db.introspection.getTables()).find((tb) => tb.name === 'clusters');
  const columns = Object.fromEntries((clusters?.columns ?? []).map((c) => [c.name, c.isNullable]));
  assert.deepEqual(columns, {
    id: false,
    project_id: false,
    name: false,
    created_at: false,
    identity: true,
    agent_version: true,
    kube_version: true,
    jit_namespace: true,
    last_seen_at: true,
    connected: false,
  });
});

test('migrateToLatest is idempotent across reopening a file database', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-mig-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'ztka.db');
  const first = openSqlite(file);
  assert.deepEqual(await migrateToLatest(first), Object.keys(migrations));
  await first.insertInto('orgs').values({ id: 'o', name: 'kept', created_at: 1 }).execute();
  await first.destroy();

  const second = openSqlite(file);
  t.after(() => second.destroy());
  assert.deepEqual(await migrateToLatest(second), []);
  assert.deepEqual(await second.selectFrom('orgs').select('name').execute(), [{ name: 'kept' }]);
});

test('migration 001 enforces the unique constraints', async (t) => {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  await migrateToLatest(db);
  await db.insertInto('orgs').values({ id: 'o1', name: 'acme', created_at: 1 }).execute();
  await assert.rejects(
    db.insertInto('orgs').values({ id: 'o2', name: 'acme', created_at: 1 }).execute(),
    /UNIQUE constraint failed: orgs.name/,
  );
  await db.insertInto('orgs').values({ id: 'o2', name: 'other', created_at: 1 }).execute();
  await db.insertInto('projects').values({ id: 'p1', org_id: 'o1', name: 'web', created_at: 1 }).execute();
  // The same project name in another org is fine, twice in one org is not.
  await db.insertInto('projects').values({ id: 'p2', org_id: 'o2', name: 'web', created_at: 1 }).execute();
  await assert.rejects(
    db.insertInto('projects').values({ id: 'p3', org_id: 'o1', name: 'web', created_at: 1 }).execute(),
    /UNIQUE constraint failed/,
  );
});

test('migrateToLatest throws a clear error when the database has unknown migrations', async (t) => {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  await migrateToLatest(db);
  // Simulate a database migrated by a newer controller.
  const newer = db.withTables<{ kysely_migration: { name: string; timestamp: string } }>();
  await newer
    .insertInto('kysely_migration')
    .values({ name: '999_from_the_future', timestamp: new Date().toISOString() })
    .execute();
  await assert.rejects(migrateToLatest(db), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.match(err.message, /^database migration error: /);
    assert.match(err.message, /999_from_the_future/);
    return true;
  });
});

test('migration 008 leaves credentials issued before it without a key, to be refused', async (t) => {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
  assert.equal((await migrator.migrateTo('007_org_namespace_pod_security')).error, undefined);
  const old = db.withTables<{
    agent_credentials: { id: string; cluster_id: string; secret_hash: string; created_at: number };
  }>();
  await db.insertInto('orgs').values({ id: 'o', name: 'acme', created_at: 1 }).execute();
  await db.insertInto('projects').values({ id: 'p', org_id: 'o', name: 'web', created_at: 1 }).execute();
  await db
    .insertInto('clusters')
    .values({
      id: 'c',
      project_id: 'p',
      name: 'alpha',
      created_at: 1,
      identity: 'uid',
      agent_version: null,
      kube_version: null,
      last_seen_at: null,
      connected: 0,
    })
    .execute();
  await old
    .insertInto('agent_credentials')
    .values({ id: 'cred', cluster_id: 'c', secret_hash: 'h', created_at: 1 })
    .execute();
  assert.equal((await migrator.migrateTo('008_agent_keys')).error, undefined);
  assert.deepEqual(await db.selectFrom('agent_credentials').select(['id', 'public_key']).execute(), [
    { id: 'cred', public_key: null },
  ]);
});

test('migration 010 keeps password logins for existing orgs; a deleted break-glass user leaves none', async (t) => {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  const migrator = new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
  assert.equal((await migrator.migrateTo('009_sso')).error, undefined);
  await db.insertInto('orgs').values({ id: 'o', name: 'acme', created_at: 1 }).execute();
  await sql`insert into org_settings (org_id, kubeconfig_validity_s, sa_lifetime_s, web_kubectl, cli_kubectl,
    updated_at) values ('o', 600, 60, 1, 1, 1)`.execute(db);
  assert.deepEqual((await migrator.migrateTo('010_local_login_policy')).error, undefined);
  const row = () =>
    db
      .selectFrom('org_settings')
      .select(['require_totp', 'sso_only', 'break_glass_user_id'])
      .executeTakeFirstOrThrow();
  assert.deepEqual(await row(), { require_totp: 0, sso_only: 0, break_glass_user_id: null });
  await db
    .insertInto('users')
    .values({ id: 'u', org_id: 'o', username: 'root', password_hash: 'x', disabled_at: null, created_at: 1 })
    .execute();
  await db.updateTable('org_settings').set({ break_glass_user_id: 'u' }).execute();
  await db.deleteFrom('users').where('id', '=', 'u').execute();
  assert.equal((await row()).break_glass_user_id, null);
});
