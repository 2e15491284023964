// The controller's store on a real PostgreSQL server: the same migrations and the same Kysely queries that
// run on SQLite, with timestamps (bigint epoch ms) coming back as numbers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { agentCredentialId, generateAgentKey, parseAgentPublicKey } from '@ztka/protocol';
import { startPostgres, type PostgresServer } from '@ztka/testenv';
import { CredentialStore } from '@ztka/controller/auth/credentials';
import { ClusterRegistry } from '@ztka/controller/clusters/registry';
import { ChangeFeed, type OrgChange } from '@ztka/controller/org/changes';
import { ProjectStore } from '@ztka/controller/org/projects';
import { RoleAssignments } from '@ztka/controller/org/role-assignments';
import { UserDirectory } from '@ztka/controller/org/users';
import { SettingsStore } from '@ztka/controller/org/settings';
import { TotpStore, totpCode } from '@ztka/controller/auth/totp';
import { SecretBox } from '@ztka/controller/store/sealed';
import { migrateToLatest, migrations } from '@ztka/controller/store/migrations';
import { openStore, storeDialect } from '@ztka/controller/store/open';
import type { ContractStore } from '@ztka/controller/audit/store-contract';
import { auditStoreContract } from '@ztka/controller/audit/store-contract';
import { auditIntegrityContract } from '@ztka/controller/audit/integrity-contract';

type Store = ReturnType<typeof openStore>;

// Not a round number of seconds, and well past 2^31: an int4 or a float would show here.
const T0 = Date.UTC(2025, 0, 1, 12, 34, 56, 789);
const HOUR = 60 * 60 * 1000;
const UID_A = '3f6b1a52-8c1e-4f7a-9d2b-0a1b2c3d4e5f';
const UID_B = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
/** An agent's public key: registration binds the credential to it. */
const KEY = generateAgentKey().publicKey;
const iso = (ms: number) => new Date(ms).toISOString();

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
  const clock = { now: T0 };
  const now = () => clock.now;

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

  test('a cluster registers: org and project, cluster, bootstrap exchange, agent credential, list', async () => {
    const registry = new ClusterRegistry(db, now);
    const ids = await registry.ensureOrgAndProject('acme', 'web');
    assert.deepEqual(await registry.ensureOrgAndProject('acme', 'web'), ids);

    const { cluster, bootstrapToken } = await registry.createCluster({
      org: 'acme',
      project: 'web',
      name: 'prod-1',
    });
    assert.deepEqual(cluster, {
      name: 'prod-1',
      org: 'acme',
      project: 'web',
      identity: null,
      connected: false,
      lastSeenAt: null,
      agentVersion: null,
      kubeVersion: null,
      createdAt: iso(T0),
    });
    assert.equal(bootstrapToken.expiresAt, iso(T0 + 24 * HOUR));
    await assert.rejects(registry.createCluster({ org: 'acme', project: 'web', name: 'prod-1' }), {
      name: 'RegistryError',
      code: 'conflict',
    });
    await assert.rejects(registry.createCluster({ org: 'acme', project: 'nope', name: 'prod-2' }), {
      code: 'not_found',
    });

    clock.now = T0 + 1000;
    const exchanged = await registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY);
    assert.equal(exchanged.clusterName, 'prod-1');
    // Single use.
    await assert.rejects(registry.exchangeBootstrapToken(bootstrapToken.token, UID_A, KEY), {
      code: 'invalid_token',
    });
    const credentialId = agentCredentialId(exchanged.agentCredential);
    assert.deepEqual(await registry.authenticateAgent(exchanged.agentCredential), {
      clusterId: (
        await db.selectFrom('clusters').select('id').where('name', '=', 'prod-1').executeTakeFirst()
      )?.id,
      clusterName: 'prod-1',
      identity: UID_A,
      credentialId,
      publicKey: KEY,
    });
    assert.equal(await registry.authenticateAgent(`${exchanged.agentCredential}x`), undefined);
    // Registration without an Ed25519 public key exchanges nothing.
    const keyless = await registry.newBootstrapToken('prod-1');
    await assert.rejects(registry.exchangeBootstrapToken(keyless.token, UID_A, 'AAAA'), {
      code: 'invalid_argument',
    });
    assert.ok(parseAgentPublicKey(KEY));

    // Each key proof's nonce is accepted once, also when uses race on separate connections of the pool.
    const expires = clock.now + 60_000;
    const raced = await Promise.all(
      Array.from({ length: 8 }, () => registry.consumeAgentProof(credentialId, 'nonce-1', expires)),
    );
    assert.equal(raced.filter(Boolean).length, 1);
    assert.equal(await registry.consumeAgentProof(credentialId, 'nonce-2', expires), true);
    clock.now = expires + 1;
    assert.equal(await registry.consumeAgentProof(credentialId, 'nonce-3', clock.now + 60_000), true);
    assert.deepEqual(
      (await db.selectFrom('agent_proof_nonces').select('nonce').execute()).map((r) => r.nonce),
      ['nonce-3'],
    );
    clock.now = T0 + 1000;

    // A token from another Kubernetes cluster is refused; an expired one too.
    const second = await registry.newBootstrapToken('prod-1');
    await assert.rejects(registry.exchangeBootstrapToken(second.token, UID_B, KEY), {
      code: 'identity_mismatch',
    });
    const third = await registry.newBootstrapToken('prod-1');
    clock.now += 24 * HOUR;
    await assert.rejects(registry.exchangeBootstrapToken(third.token, UID_A, KEY), { code: 'invalid_token' });

    // Re-bootstrapping rotates the agent credential.
    const fourth = await registry.newBootstrapToken('prod-1');
    const rotated = await registry.exchangeBootstrapToken(fourth.token, UID_A, KEY);
    assert.equal(await registry.authenticateAgent(exchanged.agentCredential), undefined);
    assert.equal((await registry.authenticateAgent(rotated.agentCredential))?.clusterName, 'prod-1');

    const seenAt = clock.now;
    await registry.recordAgent('prod-1', { agentVersion: '0.1.0', kubeVersion: 'v1.34.4' });
    await registry.ensureOrgAndProject('acme', 'batch');
    await registry.createCluster({ org: 'acme', project: 'batch', name: 'batch-1' });
    await registry.createCluster({ org: 'acme', project: 'web', name: 'a-web' });

    const all = await registry.listClusters();
    assert.deepEqual(
      all.map((c) => c.name),
      ['a-web', 'batch-1', 'prod-1'],
    );
    const web = await registry.listClusters('web', 'acme');
    assert.deepEqual(
      web.map((c) => c.name),
      ['a-web', 'prod-1'],
    );
    assert.deepEqual(web[1], {
      name: 'prod-1',
      org: 'acme',
      project: 'web',
      identity: UID_A,
      connected: false,
      lastSeenAt: iso(seenAt),
      agentVersion: '0.1.0',
      kubeVersion: 'v1.34.4',
      createdAt: iso(T0),
    });
    assert.deepEqual(await registry.listClusters(undefined, undefined, new Set([ids.projectId])), web);

    const raw = await db
      .selectFrom('clusters')
      .select(['created_at', 'last_seen_at', 'connected'])
      .where('name', '=', 'prod-1')
      .executeTakeFirstOrThrow();
    assert.deepEqual(raw, { created_at: T0, last_seen_at: seenAt, connected: 0 });

    assert.equal(await registry.revokeAgentCredentials('prod-1'), 1);
    assert.equal(await registry.deleteCluster('batch-1'), true);
    assert.equal(await registry.deleteCluster('batch-1'), false);
  });

  test('people: a user, a role, credentials issued, verified, listed and revoked; projects with counts', async () => {
    clock.now = T0 + 10 * HOUR;
    const changes = new ChangeFeed();
    const seen: OrgChange[] = [];
    changes.on((c) => seen.push(c));
    const registry = new ClusterRegistry(db, now);
    const users = new UserDirectory(db, changes, now);
    const roles = new RoleAssignments(db, changes, now);
    const credentials = new CredentialStore(db, changes, now);
    const projects = new ProjectStore(db, now);
    const { orgId, projectId } = await registry.ensureOrgAndProject('people', 'shop');

    const alice = await users.create(orgId, 'Alice@Example.com', null);
    assert.equal(alice.username, 'alice@example.com');
    assert.equal(alice.createdAt, clock.now);
    await assert.rejects(users.create(orgId, 'alice@example.com', null), { code: 'conflict' });
    const bob = await users.create(orgId, 'bob', 'not-a-real-hash');
    assert.deepEqual(await users.find('ALICE@example.com'), alice);

    const page = await users.list(orgId, { limit: 1, after: undefined });
    assert.deepEqual(page.items, [
      {
        username: 'alice@example.com',
        disabled: false,
        hasPassword: false,
        totp: 'off',
        groups: [],
        createdAt: iso(clock.now),
      },
    ]);
    assert.ok(page.nextCursor);
    const rest = await users.list(orgId, { limit: 1, after: 'alice@example.com' });
    assert.deepEqual(
      rest.items.map((u) => u.username),
      ['bob'],
    );

    const assignedAt = clock.now;
    const orgRole = await roles.assign(orgId, { userId: alice.id }, 'ADMIN_READ_ONLY', null, undefined);
    clock.now += 1;
    await roles.assign(orgId, { userId: alice.id }, 'NAMESPACE_ADMIN', projectId, ['team-b', 'team-a']);
    await assert.rejects(roles.assign(orgId, { userId: alice.id }, 'ADMIN_READ_ONLY', null, undefined), {
      code: 'conflict',
    });
    assert.deepEqual(
      (await roles.forUser(alice.id)).sort((a, b) => a.role.localeCompare(b.role)),
      [
        { role: 'ADMIN_READ_ONLY', projectId: null, namespaces: [] },
        { role: 'NAMESPACE_ADMIN', projectId, namespaces: ['team-a', 'team-b'] },
      ],
    );
    const listed = await roles.list(orgId, { userId: alice.id });
    assert.deepEqual(
      listed.map(({ id: _id, ...view }) => view),
      [
        { role: 'ADMIN_READ_ONLY', user: 'alice@example.com', createdAt: iso(assignedAt) },
        {
          role: 'NAMESPACE_ADMIN',
          user: 'alice@example.com',
          project: 'shop',
          namespaces: ['team-a', 'team-b'],
          createdAt: iso(assignedAt + 1),
        },
      ],
    );
    assert.equal(listed[0]?.id, orgRole);
    assert.deepEqual(await roles.forUser(bob.id), []);

    clock.now += 1;
    const issuedAt = clock.now;
    const key = await credentials.issue(alice.id, 'api_key', { name: 'laptop', ttlMs: null });
    assert.equal(key.expiresAt, null);
    clock.now += 1;
    const kubeconfig = await credentials.issue(alice.id, 'kubeconfig', {
      name: 'kubectl',
      ttlMs: HOUR,
      channel: 'cli',
    });
    assert.equal(kubeconfig.expiresAt, iso(issuedAt + 1 + HOUR));

    const principal = await credentials.verify(key.token, ['api_key', 'session']);
    assert.deepEqual(principal, {
      credentialId: key.id,
      kind: 'api_key',
      userId: alice.id,
      username: 'alice@example.com',
      orgId,
      channel: null,
      clusterId: null,
      sessionId: null,
      expiresAt: null,
    });
    assert.equal(await credentials.verify(key.token, ['session']), undefined);
    assert.equal(await credentials.verify(`${key.token}x`, ['api_key']), undefined);
    assert.equal(
      (await credentials.verify(kubeconfig.token, ['kubeconfig']))?.expiresAt,
      issuedAt + 1 + HOUR,
    );

    const views = await credentials.list(orgId);
    assert.deepEqual(
      views.map((v) => [v.kind, v.name, v.user, v.createdAt, v.expiresAt, v.lastUsedAt, v.revoked]),
      [
        [
          'kubeconfig',
          'kubectl',
          'alice@example.com',
          iso(issuedAt + 1),
          iso(issuedAt + 1 + HOUR),
          iso(clock.now),
          false,
        ],
        ['api_key', 'laptop', 'alice@example.com', iso(issuedAt), null, iso(clock.now), false],
      ],
    );
    const raw = await db
      .selectFrom('credentials')
      .select(['created_at', 'expires_at', 'last_used_at', 'revoked_at'])
      .where('id', '=', kubeconfig.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(raw, {
      created_at: issuedAt + 1,
      expires_at: issuedAt + 1 + HOUR,
      last_used_at: clock.now,
      revoked_at: null,
    });

    // Expiry is an integer comparison in SQL and in code.
    clock.now = issuedAt + 1 + HOUR;
    assert.equal(await credentials.verify(kubeconfig.token, ['kubeconfig']), undefined);
    assert.deepEqual(
      (await credentials.list(orgId, alice.id)).map((v) => v.id),
      [key.id],
    );
    await credentials.revoke(key.id, alice.id);
    assert.equal(await credentials.verify(key.token, ['api_key']), undefined);
    await assert.rejects(credentials.revoke(key.id), { code: 'not_found' });
    assert.deepEqual(await credentials.list(orgId), []);

    const later = await credentials.issue(bob.id, 'session', { name: 'browser', ttlMs: HOUR });
    assert.equal((await credentials.verify(later.token, ['session']))?.username, 'bob');
    await users.setDisabled(bob, true);
    assert.equal(await credentials.verify(later.token, ['session']), undefined);
    // Pruning deletes what expired or was revoked before now: the kubeconfig, the key and bob's session.
    clock.now += 1;
    assert.equal(await credentials.prune(0), 3);
    assert.deepEqual(await db.selectFrom('credentials').select('id').execute(), []);
    assert.ok(seen.some((c) => c.kind === 'user' && c.what === 'disabled'));

    // Projects with their cluster counts (count() is an int8 on PostgreSQL).
    await registry.createCluster({ org: 'people', project: 'shop', name: 'shop-1' });
    await registry.createCluster({ org: 'people', project: 'shop', name: 'shop-2' });
    const empty = await projects.create(orgId, 'empty');
    assert.deepEqual(empty, { name: 'empty', clusters: 0, createdAt: iso(clock.now) });
    await assert.rejects(projects.create(orgId, 'empty'), { code: 'conflict' });
    const listedProjects = await projects.list(orgId, { limit: 10, after: undefined }, null);
    assert.deepEqual(
      listedProjects.items.map(({ id: _id, ...p }) => p),
      [
        { name: 'empty', clusters: 0, createdAt: iso(clock.now) },
        { name: 'shop', clusters: 2, createdAt: iso(T0 + 10 * HOUR) },
      ],
    );
    const firstPage = await projects.list(orgId, { limit: 1, after: undefined }, null);
    assert.deepEqual(
      firstPage.items.map((p) => p.name),
      ['empty'],
    );
    assert.ok(firstPage.nextCursor);
    const visible = await projects.list(orgId, { limit: 10, after: undefined }, new Set([projectId]));
    assert.deepEqual(
      visible.items.map((p) => [p.name, p.clusters]),
      [['shop', 2]],
    );
    await projects.delete(orgId, 'empty');
    await assert.rejects(projects.delete(orgId, 'shop'), { code: 'conflict' });

    await users.delete(alice);
    assert.deepEqual(await roles.list(orgId, {}), []);
  });

  test('login policy: a TOTP code is used once under concurrency; ssoOnly revokes in its transaction', async () => {
    clock.now = T0 + 20 * HOUR;
    const changes = new ChangeFeed();
    const seen: OrgChange[] = [];
    changes.on((c) => seen.push(c));
    const registry = new ClusterRegistry(db, now);
    const users = new UserDirectory(db, changes, now);
    const roles = new RoleAssignments(db, changes, now);
    const credentials = new CredentialStore(db, changes, now);
    const settings = new SettingsStore(db, changes, now);
    const totp = new TotpStore(db, SecretBox.generate(), now);
    const { orgId } = await registry.ensureOrgAndProject('policy', 'shop');
    const glass = await users.create(orgId, 'glass', 'hash-g');
    const local = await users.create(orgId, 'local', 'hash-l');
    const sso = await users.create(orgId, 'sso', null);

    const { secret } = await totp.begin(local.id, local.username);
    assert.deepEqual(await totp.confirm(local.id, totpCode(secret, clock.now)), { ok: true });
    assert.equal((await users.view(local)).totp, 'on');
    const next = totpCode(secret, clock.now + 30_000);
    const tries = await Promise.all(Array.from({ length: 8 }, () => totp.check(local.id, next)));
    assert.equal(tries.filter((r) => r.ok).length, 1);
    assert.ok(tries.every((r) => r.ok || r.reason === 'replayed code'));

    const keys = await Promise.all(
      [glass, local, sso].map((u) => credentials.issue(u.id, 'api_key', { name: 'k', ttlMs: null })),
    );
    await assert.rejects(settings.update(orgId, { ssoOnly: true, breakGlassUser: 'glass' }), {
      code: 'bad_request',
      field: '/breakGlassUser',
    });
    // The refused change left nothing behind, and revoked nothing.
    assert.equal((await settings.get(orgId)).ssoOnly, false);
    assert.ok(await credentials.verify(keys[1]?.token ?? '', ['api_key']));

    await roles.assign(orgId, { userId: glass.id }, 'ADMIN', null, undefined);
    seen.length = 0;
    const updated = await settings.update(orgId, { ssoOnly: true, breakGlassUser: 'glass' });
    assert.deepEqual([updated.ssoOnly, updated.breakGlassUser], [true, 'glass']);
    const live = await Promise.all(
      keys.map(async (k) => (await credentials.verify(k.token, ['api_key'])) !== undefined),
    );
    // The break-glass user and the single sign-on user keep theirs; the local user's ended.
    assert.deepEqual(live, [true, false, true]);
    assert.deepEqual(
      seen.filter((c) => c.kind === 'user'),
      [{ kind: 'user', userId: local.id, username: 'local', what: 'signed-out' }],
    );
    await assert.rejects(settings.update(orgId, { breakGlassUser: '' }), { field: '/breakGlassUser' });
    await settings.update(orgId, { ssoOnly: false });
  });
});

// The audit trail's contract suite, the same one SQLite runs (packages/controller/src/audit/sqlite.test.ts),
// on a real PostgreSQL: one server, a fresh database schema per test through a fresh pool, and more pools on
// the same database where a test plays several controllers.
let auditServer: PostgresServer | undefined;
after(async () => {
  await auditServer?.stop();
});
async function auditStore(): Promise<ContractStore> {
  auditServer ??= await startPostgres();
  const url = auditServer.url;
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
