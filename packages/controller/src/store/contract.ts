// What the stores' contract suites (audit/, clusters/, org/) run against: one suite per store, run by a
// unit test on SQLite and by test/e2e's postgres-store.test.ts on a real PostgreSQL.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { ProjectStore } from '../org/projects.js';
import { migrateToLatest } from './migrations.js';
import { openStore } from './open.js';
import type { Database } from './schema.js';

export interface ContractStore {
  /** A migrated database; empty unless the suite says otherwise (the audit suite shares one per server). */
  db: Kysely<Database>;
  /**
   * Another connection pool on the same database, as a second controller would have; closed by `close()`.
   * Absent where the database has one writer process (SQLite).
   */
  replica?(): Kysely<Database>;
  close(): Promise<void>;
}

/**
 * The org (created unless it exists) and a new project in it, for suites that need somewhere to put
 * clusters. Orgs have no API of their own: the controller only ever makes its default org (auth/bootstrap.ts).
 */
export async function orgWithProject(
  db: Kysely<Database>,
  org: string,
  project: string,
  clock: () => number = Date.now,
): Promise<{ orgId: string; projectId: string }> {
  await db
    .insertInto('orgs')
    .values({ id: `org-${org}`, name: org, created_at: clock() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const { id: orgId } = await db
    .selectFrom('orgs')
    .select('id')
    .where('name', '=', org)
    .executeTakeFirstOrThrow();
  const projects = new ProjectStore(db, clock);
  await projects.create(orgId, project);
  const projectId = await projects.find(orgId, project);
  if (projectId === undefined) throw new Error(`project ${project} vanished right after being created`);
  return { orgId, projectId };
}

/**
 * A new, migrated database on the PostgreSQL server at `url` (as a user who may create databases): what
 * gives each test of a suite an empty store of its own on one server.
 */
export async function newPostgresDatabase(url: string): Promise<ContractStore> {
  const name = `contract_${randomUUID().replaceAll('-', '')}`;
  const admin = openStore(url);
  try {
    await sql`CREATE DATABASE ${sql.id(name)}`.execute(admin);
  } finally {
    await admin.destroy();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  const db = openStore(target.toString());
  await migrateToLatest(db);
  return { db, close: () => db.destroy() };
}
