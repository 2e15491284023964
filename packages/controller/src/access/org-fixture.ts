// The org the access tests work in (authorize.test.ts, revocation.test.ts): real stores on an in-memory
// SQLite database, as the controller wires them.
import type { TestContext } from 'node:test';
import { CredentialStore } from '../auth/credentials.js';
import { BootstrapTokens } from '../clusters/bootstrap-tokens.js';
import { ClusterStore } from '../clusters/clusters.js';
import { ChangeFeed } from '../org/changes.js';
import { RoleAssignments } from '../org/role-assignments.js';
import { SettingsStore } from '../org/settings.js';
import { UserDirectory } from '../org/users.js';
import { orgWithProject } from '../store/contract.js';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import { Access } from './authorize.js';

/** One org with projects web and batch, clusters web-1 and batch-1, and alice and bob, who hold nothing yet. */
export async function accessFixture(t: TestContext) {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  await migrateToLatest(db);
  const changes = new ChangeFeed();
  const roles = new RoleAssignments(db, changes);
  const settings = new SettingsStore(db, changes);
  const credentials = new CredentialStore(db, changes);
  const users = new UserDirectory(db, changes);
  const access = new Access(db, roles, settings, credentials, changes);
  const clusters = new ClusterStore(db, new BootstrapTokens(db));
  const { orgId, projectId: web } = await orgWithProject(db, 'default', 'web');
  const { projectId: batch } = await orgWithProject(db, 'default', 'batch');
  await clusters.create({ project: 'web', name: 'web-1' });
  await clusters.create({ project: 'batch', name: 'batch-1' });
  const alice = await users.create(orgId, 'alice', null);
  const bob = await users.create(orgId, 'bob', null);
  return {
    db,
    changes,
    roles,
    settings,
    credentials,
    users,
    access,
    clusters,
    orgId,
    web,
    batch,
    alice,
    bob,
  };
}
