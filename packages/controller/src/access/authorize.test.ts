import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ZtkaError } from '@ztka/protocol';
import type { Principal } from '../auth/credentials.js';
import { orgWithProject } from '../store/contract.js';
import { noClusterAccess } from './authorize.js';
import { accessFixture } from './org-fixture.js';

/** The access fixture, and alice's kube credentials as the proxy sees them. */
async function fixture(t: TestContext) {
  const org = await accessFixture(t);
  const { credentials, alice } = org;
  /** A kube credential of alice's, as the proxy sees it. */
  const principal = async (
    opts: { channel?: 'cli' | 'web-shell'; clusterId?: string; sessionId?: string } = {},
  ) => {
    const issued = await credentials.issue(alice.id, 'kubeconfig', { name: 'k', ttlMs: 60_000, ...opts });
    const verified = await credentials.verify(issued.token, ['kubeconfig']);
    assert.ok(verified);
    return verified;
  };
  return { ...org, principal };
}

const refusal = (code: string, message: RegExp) => (err: unknown) =>
  err instanceof ZtkaError && err.code === code && message.test(err.message);

test("a person reaches the clusters of their projects as their role there, with the org's settings", async (t) => {
  const { access, roles, orgId, web, alice, principal } = await fixture(t);
  await roles.assign(orgId, { userId: alice.id }, 'PROJECT_READ_ONLY', web, undefined);
  const p = await principal();
  assert.deepEqual(await access.kubeIdentity(p, 'web-1'), {
    user: 'alice',
    userId: alice.id,
    channel: 'cli',
    role: 'PROJECT_READ_ONLY',
    saLifetimeSeconds: 8 * 3600,
  });
  // Another project's cluster gets the same refusal as one that does not exist.
  const none = noClusterAccess('batch-1').message;
  await assert.rejects(access.kubeIdentity(p, 'batch-1'), refusal('forbidden', new RegExp(none)));
  await assert.rejects(
    access.kubeIdentity(p, 'nope'),
    refusal('forbidden', new RegExp(noClusterAccess('nope').message)),
  );
});

test('only an org reader learns that a cluster does not exist', async (t) => {
  const { access, roles, orgId, alice, principal } = await fixture(t);
  await roles.assign(orgId, { userId: alice.id }, 'ADMIN_READ_ONLY', null, undefined);
  const p = await principal();
  await assert.rejects(access.kubeIdentity(p, 'nope'), refusal('not_found', /unknown cluster "nope"/));
  assert.equal((await access.kubeIdentity(p, 'batch-1')).role, 'ADMIN_READ_ONLY');
});

test("a cluster of another org is out of reach, whatever the person's role in their own", async (t) => {
  const { db, access, clusters, roles, orgId, alice, principal } = await fixture(t);
  await roles.assign(orgId, { userId: alice.id }, 'ADMIN', null, undefined);
  await orgWithProject(db, 'globex', 'web');
  await clusters.create({ org: 'globex', project: 'web', name: 'globex-1' });
  await assert.rejects(access.kubeIdentity(await principal(), 'globex-1'), refusal('forbidden', /no access/));
});

test('a token bound to one cluster is refused on another', async (t) => {
  const { db, access, roles, orgId, alice, principal } = await fixture(t);
  await roles.assign(orgId, { userId: alice.id }, 'ADMIN', null, undefined);
  const web1 = await db
    .selectFrom('clusters')
    .select('id')
    .where('name', '=', 'web-1')
    .executeTakeFirstOrThrow();
  const bound = await principal({ clusterId: web1.id });
  assert.equal((await access.kubeIdentity(bound, 'web-1')).role, 'ADMIN');
  await assert.rejects(
    access.kubeIdentity(bound, 'batch-1'),
    refusal('forbidden', /issued for another cluster, not batch-1/),
  );
});

test('a channel the org switched off is refused', async (t) => {
  const { access, roles, settings, orgId, alice, principal } = await fixture(t);
  await roles.assign(orgId, { userId: alice.id }, 'ADMIN', null, undefined);
  const cli = await principal();
  const shell = await principal({ channel: 'web-shell', sessionId: 'shell-1' });
  assert.deepEqual(
    { ...(await access.kubeIdentity(shell, 'web-1')) },
    {
      user: 'alice',
      userId: alice.id,
      channel: 'web-shell',
      role: 'ADMIN',
      saLifetimeSeconds: 8 * 3600,
      sessionId: 'shell-1',
    },
  );
  await settings.update(orgId, { cliKubectl: false });
  await assert.rejects(
    access.kubeIdentity(cli, 'web-1'),
    refusal('forbidden', /command line is switched off/),
  );
  assert.equal((await access.kubeIdentity(shell, 'web-1')).channel, 'web-shell');
  await settings.update(orgId, { cliKubectl: true, webKubectl: false });
  await assert.rejects(access.kubeIdentity(shell, 'web-1'), refusal('forbidden', /browser kubectl shell/));
  assert.equal((await access.kubeIdentity(cli, 'web-1')).channel, 'cli');
});

test("a namespace admin's grant carries the org's Pod Security level; other roles' do not", async (t) => {
  const { access, roles, settings, orgId, web, alice, principal } = await fixture(t);
  await roles.assign(orgId, { userId: alice.id }, 'NAMESPACE_ADMIN', web, ['team-a']);
  await roles.assign(orgId, { userId: alice.id }, 'NAMESPACE_READ_ONLY', web, ['team-b']);
  const p = await principal();
  const before = await access.kubeIdentity(p, 'web-1');
  assert.deepEqual(
    [before.role, before.namespaces, before.readOnlyNamespaces, before.podSecurity],
    ['NAMESPACE_ADMIN', ['team-a'], ['team-b'], undefined],
  );
  await settings.update(orgId, { namespacePodSecurity: 'restricted' });
  assert.equal((await access.kubeIdentity(p, 'web-1')).podSecurity, 'restricted');
  await roles.assign(orgId, { userId: alice.id }, 'PROJECT_ADMIN', web, undefined);
  assert.equal((await access.kubeIdentity(p, 'web-1')).podSecurity, undefined);
});

test('reauthorize reads the credential and the assignments afresh', async (t) => {
  const { access, roles, credentials, users, orgId, web, alice, principal } = await fixture(t);
  const id = await roles.assign(orgId, { userId: alice.id }, 'PROJECT_ADMIN', web, undefined);
  const shell: Principal = await principal({ channel: 'web-shell', sessionId: 'shell-1' });
  const again = await access.reauthorize(shell, 'web-1');
  // The channel and the session are the principal's own.
  assert.deepEqual(
    [again?.role, again?.channel, again?.sessionId],
    ['PROJECT_ADMIN', 'web-shell', 'shell-1'],
  );
  // A lost role: nothing.
  await roles.revoke(orgId, id);
  assert.equal(await access.reauthorize(shell, 'web-1'), undefined);
  // A revoked credential: nothing, whatever the role.
  await roles.assign(orgId, { userId: alice.id }, 'PROJECT_ADMIN', web, undefined);
  assert.equal((await access.reauthorize(shell, 'web-1'))?.role, 'PROJECT_ADMIN');
  await credentials.revoke(shell.credentialId);
  assert.equal(await access.reauthorize(shell, 'web-1'), undefined);
  // A disabled person: nothing.
  const other = await principal();
  await users.setDisabled(alice, true);
  assert.equal(await access.reauthorize(other, 'web-1'), undefined);
});

test('clusterScope names the project and org of a cluster, and nothing for an unknown one', async (t) => {
  const { access, orgId, batch } = await fixture(t);
  const scope = await access.clusterScope('batch-1');
  assert.deepEqual(
    { ...scope, clusterId: undefined },
    {
      clusterId: undefined,
      projectId: batch,
      project: 'batch',
      orgId,
    },
  );
  assert.equal(await access.clusterScope('nope'), undefined);
});
