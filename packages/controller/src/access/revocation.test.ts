import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { CONTROL_PATHS } from '@ztka/protocol';
import { TunnelRegistry, type AgentSession } from '../tunnel/session.js';
import { accessFixture } from './org-fixture.js';
import { Revocations } from './revocation.js';

const log = pino({ level: 'silent' });

/** A connected agent as Revocations sees it: what it is told is kept, and it may refuse to answer. */
function fakeAgent(cluster: string, opts: { fails?: boolean } = {}) {
  const told: Array<{ path: string; body: unknown }> = [];
  const closers: Array<() => void> = [];
  const session = {
    info: { cluster },
    isOpen: true,
    onClose: (handler: () => void) => void closers.push(handler),
    close: () => closers.forEach((c) => c()),
    control: async (path: string, body: unknown) => {
      told.push({ path, body });
      if (opts.fails) throw new Error('the agent did not answer');
    },
  };
  return { session: session as unknown as AgentSession, told };
}

/** The access fixture, with the agents' tunnels and the revocations that tell them. */
async function fixture(t: TestContext) {
  const org = await accessFixture(t);
  const tunnels = new TunnelRegistry();
  const revocations = new Revocations(org.db, org.access, tunnels, log, org.changes);
  return { ...org, tunnels, revocations };
}

/** Lets the queued syncs, re-checks and deliveries run, then waits for the agents' answers. */
async function settled(revocations: Revocations): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await sleep(50);
  await revocations.idle();
}

/** Waits for what runs in the background (a sync, a re-check) to have happened. */
async function eventually(happened: () => boolean): Promise<void> {
  for (let waited = 0; !happened() && waited < 5000; waited += 10) await sleep(10);
}

test('a connecting agent is told who may hold a service account on its cluster', async (t) => {
  const { roles, users, tunnels, revocations, orgId, web, batch, alice, bob } = await fixture(t);
  await roles.assign(orgId, { userId: alice.id }, 'PROJECT_ADMIN', web, undefined);
  await roles.assign(orgId, { userId: bob.id }, 'PROJECT_READ_ONLY', batch, undefined);
  const web1 = fakeAgent('web-1');
  tunnels.add(web1.session);
  await settled(revocations);
  assert.deepEqual(web1.told, [
    { path: CONTROL_PATHS.sync, body: { users: ['alice'], userIds: [alice.id] } },
  ]);

  // A disabled person is not among them.
  await users.setDisabled(alice, true);
  const batch1 = fakeAgent('batch-1');
  tunnels.add(batch1.session);
  await eventually(() => batch1.told.length > 0);
  assert.deepEqual(batch1.told.at(-1), {
    path: CONTROL_PATHS.sync,
    body: { users: ['bob'], userIds: [bob.id] },
  });
});

test('a person disabled, deleted or with a new password is revoked on every connected cluster at once', async (t) => {
  const { users, tunnels, revocations, alice, bob } = await fixture(t);
  const agents = [fakeAgent('web-1'), fakeAgent('batch-1')];
  for (const a of agents) tunnels.add(a.session);
  await eventually(() => agents.every((a) => a.told.length > 0));
  for (const a of agents) a.told.length = 0;

  await users.setDisabled(alice, true);
  await settled(revocations);
  for (const a of agents)
    assert.deepEqual(a.told, [{ path: CONTROL_PATHS.revoke, body: { users: ['alice'] } }]);

  // Enabling narrows nothing.
  await users.setDisabled(alice, false);
  await users.delete(bob);
  await settled(revocations);
  for (const a of agents)
    assert.deepEqual(a.told.slice(1), [{ path: CONTROL_PATHS.revoke, body: { users: ['bob'] } }]);
});

test('an assignment change revokes only where the person lost all access', async (t) => {
  const { roles, tunnels, revocations, orgId, web, batch, alice } = await fixture(t);
  const onWeb = await roles.assign(orgId, { userId: alice.id }, 'PROJECT_ADMIN', web, undefined);
  await roles.assign(orgId, { userId: alice.id }, 'PROJECT_READ_ONLY', batch, undefined);
  const web1 = fakeAgent('web-1');
  const batch1 = fakeAgent('batch-1');
  tunnels.add(web1.session);
  tunnels.add(batch1.session);
  await eventually(() => web1.told.length > 0 && batch1.told.length > 0);
  web1.told.length = 0;
  batch1.told.length = 0;

  await roles.revoke(orgId, onWeb);
  await settled(revocations);
  assert.deepEqual(web1.told, [{ path: CONTROL_PATHS.revoke, body: { users: ['alice'] } }]);
  // She keeps batch-1: her next request there converges her account, nothing is revoked.
  assert.deepEqual(batch1.told, []);
});

test('an agent that does not answer is logged, and the change is still answered', async (t) => {
  const { users, tunnels, revocations, alice } = await fixture(t);
  const silent = fakeAgent('web-1', { fails: true });
  tunnels.add(silent.session);
  await eventually(() => silent.told.length > 0);
  await users.setDisabled(alice, true);
  await settled(revocations);
  assert.deepEqual(silent.told.slice(1), [{ path: CONTROL_PATHS.revoke, body: { users: ['alice'] } }]);
});

test('a request in flight ends when its credential expires', async (t) => {
  const { access, roles, credentials, revocations, orgId, web, alice } = await fixture(t);
  await roles.assign(orgId, { userId: alice.id }, 'PROJECT_ADMIN', web, undefined);
  const issued = await credentials.issue(alice.id, 'kube_token', { name: 't', ttlMs: 50 });
  const principal = await credentials.verify(issued.token, ['kube_token']);
  assert.ok(principal);
  const identity = await access.kubeIdentity(principal, 'web-1');
  const ended: string[] = [];
  revocations.trackRequest({ principal, cluster: 'web-1', identity }, (why) => ended.push(why));
  await sleep(200);
  assert.deepEqual(ended, ['the credential that opened it expired']);

  // Untracked before its expiry, it is left alone.
  const later = await credentials.issue(alice.id, 'kube_token', { name: 'u', ttlMs: 50 });
  const other = await credentials.verify(later.token, ['kube_token']);
  assert.ok(other);
  const untrack = revocations.trackRequest({ principal: other, cluster: 'web-1', identity }, (why) =>
    ended.push(why),
  );
  untrack();
  await sleep(200);
  assert.equal(ended.length, 1);
});

test('a request in flight ends when a change takes away its role, not when the grant merely changes', async (t) => {
  const { access, roles, settings, credentials, revocations, orgId, web, alice } = await fixture(t);
  const admin = await roles.assign(orgId, { userId: alice.id }, 'PROJECT_ADMIN', web, undefined);
  const issued = await credentials.issue(alice.id, 'kubeconfig', { name: 'k', ttlMs: null });
  const principal = await credentials.verify(issued.token, ['kubeconfig']);
  assert.ok(principal);
  const identity = await access.kubeIdentity(principal, 'web-1');
  const ended: string[] = [];
  const untrack = revocations.trackRequest({ principal, cluster: 'web-1', identity }, (why) =>
    ended.push(why),
  );

  // The service accounts' lifetime is part of the grant, but not of what the request may do.
  await settings.update(orgId, { saLifetimeSeconds: 600 });
  await settled(revocations);
  assert.deepEqual(ended, []);

  // Read-only instead of admin: the same cluster, another role.
  await roles.assign(orgId, { userId: alice.id }, 'PROJECT_READ_ONLY', web, undefined);
  await roles.revoke(orgId, admin);
  await eventually(() => ended.length > 0);
  assert.deepEqual(ended, ['access revoked while it was open']);
  untrack();

  // A revoked credential ends what it opened, whatever the role.
  const again = await access.kubeIdentity(principal, 'web-1');
  const more: string[] = [];
  revocations.trackRequest({ principal, cluster: 'web-1', identity: again }, (why) => more.push(why));
  await credentials.revoke(principal.credentialId);
  await eventually(() => more.length > 0);
  assert.deepEqual(more, ['access revoked while it was open']);
});
