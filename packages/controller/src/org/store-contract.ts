// The org stores' contract, one suite for every database: people, roles, credentials, projects, TOTP and
// the org's login policy, run by org/sqlite.test.ts on SQLite and by the PostgreSQL end-to-end test on a
// real PostgreSQL. Each test gets an empty database of its own.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { CredentialStore } from '../auth/credentials.js';
import { TotpStore, totpCode } from '../auth/totp.js';
import { BootstrapTokens } from '../clusters/bootstrap-tokens.js';
import { ClusterStore } from '../clusters/clusters.js';
import { orgWithProject, type ContractStore } from '../store/contract.js';
import { SecretBox } from '../store/sealed.js';
import { ChangeFeed, type OrgChange } from './changes.js';
import { ProjectStore } from './projects.js';
import { RoleAssignments } from './role-assignments.js';
import { SettingsStore } from './settings.js';
import { UserDirectory } from './users.js';

// Not a round number of seconds, and well past 2^31: an int4 or a float would show here.
const T0 = Date.UTC(2025, 0, 1, 12, 34, 56, 789);
const HOUR = 60 * 60 * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

export function orgStoreContract(name: string, open: () => Promise<ContractStore>): void {
  describe(`org store contract: ${name}`, () => {
    async function fixture(t: TestContext) {
      const store = await open();
      t.after(() => store.close());
      const clock = { now: T0 };
      const now = () => clock.now;
      const db = store.db;
      const changes = new ChangeFeed();
      const seen: OrgChange[] = [];
      changes.on((c) => seen.push(c));
      return {
        db,
        clock,
        now,
        seen,
        clusters: new ClusterStore(db, new BootstrapTokens(db, { clock: now }), now),
        users: new UserDirectory(db, changes, now),
        roles: new RoleAssignments(db, changes, now),
        credentials: new CredentialStore(db, changes, now),
        projects: new ProjectStore(db, now),
        settings: new SettingsStore(db, changes, now),
        totp: new TotpStore(db, SecretBox.generate(), now),
      };
    }

    test('people: a user, a role, credentials issued, verified, listed and revoked; projects with counts', async (t) => {
      const { db, clock, now, seen, clusters, users, roles, credentials, projects } = await fixture(t);
      clock.now = T0 + 10 * HOUR;
      const { orgId, projectId } = await orgWithProject(db, 'people', 'shop', now);

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
      await clusters.create({ org: 'people', project: 'shop', name: 'shop-1' });
      await clusters.create({ org: 'people', project: 'shop', name: 'shop-2' });
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

    test('login policy: a TOTP code is used once under concurrency; ssoOnly revokes in its transaction', async (t) => {
      const { db, clock, now, seen, users, roles, credentials, settings, totp } = await fixture(t);
      clock.now = T0 + 20 * HOUR;
      const { orgId } = await orgWithProject(db, 'policy', 'shop', now);
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
}
