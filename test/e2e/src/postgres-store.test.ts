// The controller's store on a real PostgreSQL server: the same migrations and the same Kysely queries that
// run on SQLite, with timestamps (bigint epoch ms) coming back as numbers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPostgres, type PostgresServer } from '@ztka/testenv';
import { migrateToLatest, migrations } from '@ztka/controller/store/migrations';
import { openStore, storeDialect } from '@ztka/controller/store/open';
import { newPostgresDatabase, type ContractStore } from '@ztka/controller/store/contract';
import { auditStoreContract } from '@ztka/controller/audit/store-contract';
import { auditIntegrityContract } from '@ztka/controller/audit/integrity-contract';
import { clusterStoreContract } from '@ztka/controller/clusters/store-contract';
import { orgStoreContract } from '@ztka/controller/org/store-contract';

type Store = ReturnType<typeof openStore>;

// Not a round number of seconds, and well past 2^31: an int4 or a float would show here.
const T0 = Date.UTC(2025, 0, 1, 12, 34, 56, 789);

// PostgreSQL's names for the column types the migrations use (see store/migrations.ts).
const PG_TYPES: Readonly<Record<string, string>> = { int8: 'bigint', int4: 'integer', text: 'text' };

/** One line per table: `name col type [not null], …`, with PostgreSQL's type names mapped to SQLite's. */
async function schemaOf(store: Store): Promise<string[]> {
  const tables = await store.introspection.getTables();
  return tables
    .map((t) => {
      const columns = t.columns.map((c) => {
        const type = PG_TYPES[c.dataType] ?? c.dataType.toLowerCase();
        return `${c.name} ${type}${c.isNullable ? '' : ' not null'}`;
      });
      return `${t.name} ${columns.join(', ')}`;
    })
    .sort();
}

describe('the store on PostgreSQL', () => {
  let pg: PostgresServer;
  let db: Store;

  before(async () => {
    const started = Date.now();
    pg = await startPostgres();
    console.error(`PostgreSQL started in ${Date.now() - started} ms at ${pg.url}`);
    assert.match(pg.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/\w+$/);
    assert.equal(storeDialect(pg.url), 'postgres');
    db = openStore(pg.url);
  });

  after(async () => {
    await db?.destroy();
    await pg?.stop();
  });

  test('migrateToLatest creates the same schema as on SQLite, and is idempotent', async () => {
    // Three controllers starting at once on an empty database: one applies every migration, the others
    // wait for it (Kysely's lock) and find nothing left to do.
    const others = [openStore(pg.url), openStore(pg.url)];
    try {
      const applied = await Promise.all([db, ...others].map((d) => migrateToLatest(d)));
      assert.deepEqual(
        applied.filter((names) => names.length > 0),
        [Object.keys(migrations)],
      );
      // Run again, and from a new pool as a restarted controller would: nothing to do.
      assert.deepEqual(await migrateToLatest(db), []);
      const restarted = openStore(pg.url);
      others.push(restarted);
      assert.deepEqual(await migrateToLatest(restarted), []);
    } finally {
      await Promise.all(others.map((d) => d.destroy()));
    }

    // Every table and column, its type and nullability, as the same migrations make them on SQLite.
    const sqlite = openStore(':memory:');
    try {
      assert.equal(storeDialect(':memory:'), 'sqlite');
      await migrateToLatest(sqlite);
      const onPostgres = await schemaOf(db);
      assert.deepEqual(onPostgres, await schemaOf(sqlite));
      assert.ok(
        onPostgres.some((t) => t.startsWith('clusters ') && t.includes('created_at bigint not null')),
      );
    } finally {
      await sqlite.destroy();
    }
  });

  test('timestamps round-trip as exact numbers', async () => {
    await db.insertInto('orgs').values({ id: 'ts-org', name: 'timestamps', created_at: T0 }).execute();
    const row = await db.selectFrom('orgs').selectAll().where('id', '=', 'ts-org').executeTakeFirstOrThrow();
    assert.deepEqual(row, { id: 'ts-org', name: 'timestamps', created_at: T0 });
    assert.equal(typeof row.created_at, 'number');
    // The largest instant a JS Date can hold, 8.64e15 ms, is still exact.
    await db.updateTable('orgs').set({ created_at: 8.64e15 }).where('id', '=', 'ts-org').execute();
    const max = await db
      .selectFrom('orgs')
      .select('created_at')
      .where('id', '=', 'ts-org')
      .executeTakeFirst();
    assert.equal(max?.created_at, 8.64e15);
    await db.deleteFrom('orgs').where('id', '=', 'ts-org').execute();
  });
});

// The stores' contract suites, the same ones SQLite runs (packages/controller/src/*/sqlite.test.ts), on a
// real PostgreSQL: one server; for the audit trail a fresh pool per test on one shared database, with more
// pools on it where a test plays several controllers; for the others a new database per test.
let contractServer: PostgresServer | undefined;
after(async () => {
  await contractServer?.stop();
});
async function auditStore(): Promise<ContractStore> {
  contractServer ??= await startPostgres();
  const url = contractServer.url;
  const db = openStore(url);
  await migrateToLatest(db);
  const replicas: Store[] = [];
  return {
    db,
    replica: () => {
      const other = openStore(url);
      replicas.push(other);
      return other;
    },
    close: async () => {
      // Each test uses its own orgs, so the tables can be shared; only the pools are closed.
      await Promise.all([db, ...replicas].map((d) => d.destroy()));
    },
  };
}
auditStoreContract('PostgreSQL', auditStore);
auditIntegrityContract('PostgreSQL', auditStore);

async function newDatabase(): Promise<ContractStore> {
  contractServer ??= await startPostgres();
  return newPostgresDatabase(contractServer.url);
}
clusterStoreContract('PostgreSQL', newDatabase);
orgStoreContract('PostgreSQL', newDatabase);
