import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeFeed } from '../org/changes.js';
import { UserDirectory } from '../org/users.js';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import { Authenticator } from './authenticate.js';
import { CredentialStore } from './credentials.js';

async function setup() {
  let now = Date.UTC(2026, 10, 28);
  const clock = () => now;
  const db = openSqlite(':memory:');
  await migrateToLatest(db);
  await db.insertInto('orgs').values({ id: 'o1', name: 'default', created_at: now }).execute();
  const changes = new ChangeFeed();
  const users = new UserDirectory(db, changes, clock);
  const store = new CredentialStore(db, changes, clock);
  const auth = new Authenticator(store, changes, clock);
  const user = await users.create('o1', 'Someone@Example.com', null);
  return { db, changes, users, store, auth, user, advance: (ms: number) => (now += ms) };
}

test('a credential verifies as its own kind only, and only with its exact secret', async () => {
  const { store, user, db } = await setup();
  const { token } = await store.issue(user.id, 'kubeconfig', { name: 'k', ttlMs: 60_000, channel: 'cli' });
  const principal = await store.verify(token, ['kubeconfig']);
  assert.equal(principal?.username, 'someone@example.com');
  assert.equal(principal?.channel, 'cli');
  assert.equal(await store.verify(token, ['api_key']), undefined);
  const last = token.at(-1) === 'A' ? 'B' : 'A';
  assert.equal(await store.verify(token.slice(0, -1) + last, ['kubeconfig']), undefined);
  assert.equal(await store.verify(token.replace('ztkc_', 'ztkk_'), ['api_key']), undefined);
  for (const junk of ['', 'ztkc_', 'ztkc_x.y', 'Bearer', 'x'.repeat(5000)])
    assert.equal(await store.verify(junk, ['kubeconfig']), undefined);
  await db.destroy();
});

test('expiry, revocation and a disabled user each end a credential, also through the cache', async () => {
  const { store, auth, users, user, advance, db } = await setup();
  const a = await store.issue(user.id, 'kubeconfig', { name: 'a', ttlMs: 10_000 });
  assert.ok(await auth.verify(a.token, ['kubeconfig']));
  advance(10_000);
  assert.equal(await auth.verify(a.token, ['kubeconfig']), undefined, 'expired (cached entry too)');

  const b = await store.issue(user.id, 'api_key', { name: 'b', ttlMs: null });
  assert.ok(await auth.verify(b.token, ['api_key']));
  await store.revoke(b.id);
  assert.equal(await auth.verify(b.token, ['api_key']), undefined, 'revoked');

  const c = await store.issue(user.id, 'kube_token', { name: 'c', ttlMs: 60_000 });
  assert.ok(await auth.verify(c.token, ['kube_token']));
  await users.setDisabled(user, true);
  assert.equal(await auth.verify(c.token, ['kube_token']), undefined, 'disabled');
  await users.setDisabled(user, false);
  assert.equal(await auth.verify(c.token, ['kube_token']), undefined, 'enabling does not revive it');
  await db.destroy();
});

test('deleting a user deletes their credentials', async () => {
  const { store, users, user, db } = await setup();
  const a = await store.issue(user.id, 'api_key', { name: 'a', ttlMs: null });
  await users.delete(user);
  assert.equal(await store.verify(a.token, ['api_key']), undefined);
  assert.equal((await db.selectFrom('credentials').selectAll().execute()).length, 0);
  await db.destroy();
});

test('setting a password revokes every credential the user holds, of every kind, and announces it', async () => {
  const { store, auth, users, user, db, changes } = await setup();
  const issued = await Promise.all(
    (['session', 'api_key', 'kubeconfig', 'kube_token'] as const).map(async (kind) => ({
      kind,
      ...(await store.issue(user.id, kind, { name: kind, ttlMs: 60_000 })),
    })),
  );
  for (const c of issued) assert.ok(await auth.verify(c.token, [c.kind]), `${c.kind} works before`);
  const announced: string[] = [];
  changes.on((c) => announced.push(c.kind === 'user' ? `user:${c.what}` : c.kind));
  await users.setPassword(user, 'scrypt$15$8$1$new$hash');
  for (const c of issued) assert.equal(await auth.verify(c.token, [c.kind]), undefined, `${c.kind} refused`);
  assert.deepEqual(announced, ['user:password']);
  await db.destroy();
});

test('a credential is issued only while what vouched for it still stands', async () => {
  const { store, users, user, db } = await setup();
  await users.setPassword(user, 'hash-1');
  const refused = { code: 'unauthorized' };
  // A login that checked a password since replaced gets nothing.
  const byLogin = await store.issue(user.id, 'session', {
    name: 's',
    ttlMs: 1000,
    issuedBy: { passwordHash: 'hash-1' },
  });
  assert.ok(await store.verify(byLogin.token, ['session']));
  await users.setPassword(user, 'hash-2');
  await assert.rejects(
    store.issue(user.id, 'session', { name: 's', ttlMs: 1000, issuedBy: { passwordHash: 'hash-1' } }),
    refused,
  );
  // A request whose credential was revoked while it ran mints nothing more.
  const key = await store.issue(user.id, 'api_key', {
    name: 'k',
    ttlMs: null,
    issuedBy: { passwordHash: 'hash-2' },
  });
  const child = await store.issue(user.id, 'kube_token', {
    name: 't',
    ttlMs: 1000,
    issuedBy: { credentialId: key.id },
  });
  assert.ok(await store.verify(child.token, ['kube_token']));
  await store.revoke(key.id);
  await assert.rejects(
    store.issue(user.id, 'kube_token', { name: 't', ttlMs: 1000, issuedBy: { credentialId: key.id } }),
    refused,
  );
  // Nor does anything vouch for a disabled user.
  const other = await store.issue(user.id, 'api_key', {
    name: 'k2',
    ttlMs: null,
    issuedBy: { passwordHash: 'hash-2' },
  });
  await users.setDisabled(user, true);
  await assert.rejects(
    store.issue(user.id, 'kubeconfig', { name: 'c', ttlMs: 1000, issuedBy: { credentialId: other.id } }),
    refused,
  );
  const rows = await db.selectFrom('credentials').select('kind').where('revoked_at', 'is', null).execute();
  assert.deepEqual(rows, [], 'nothing refused was stored');
  await db.destroy();
});

test("a login's rehash never undoes a password set meanwhile", async () => {
  const { users, user, db } = await setup();
  await users.setPassword(user, 'old-weak-hash');
  await users.setPassword(user, 'reset-by-admin');
  await users.rehash(user, 'old-weak-hash', 'stronger-old');
  assert.equal((await users.find(user.username))?.passwordHash, 'reset-by-admin');
  await users.rehash(user, 'reset-by-admin', 'stronger-new');
  assert.equal((await users.find(user.username))?.passwordHash, 'stronger-new');
  await db.destroy();
});
