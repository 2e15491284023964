// Just-in-time service accounts on the real apiserver: each person reaches the cluster as their own
// service account, with the RBAC of their role, for as long as the org's lifetime, and not a moment after
// a revocation. Requests go through the real controller and agent with real kubectl.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DNS_LABEL_PATTERN } from '@ztka/protocol';
import {
  kubectl,
  namespace,
  startKubectl,
  testEnv,
  Ztka,
  type KubectlError,
  type TestEnv,
  type TestNamespace,
} from '@ztka/testenv';

const CLUSTER = 'desktop';

let env: TestEnv;
let z: Ztka;
let jitNs: string;
let teamA: TestNamespace;
let teamB: TestNamespace;

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop', { sweepIntervalMs: 500 });
  jitNs = z.jitNamespaces.get(CLUSTER)?.namespace ?? '';
  [teamA, teamB] = await Promise.all([namespace(env, 'team-a'), namespace(env, 'team-b')]);
});
after(async () => {
  await Promise.all([teamA?.cleanup(), teamB?.cleanup()]);
  await z?.stop();
});

/** A person with these roles and a kubeconfig of their own. */
async function person(username: string, roles: { role: string; project?: string; namespaces?: string[] }[]) {
  const orgWide = (role: string) => role === 'ADMIN' || role === 'ADMIN_READ_ONLY';
  const user = await z.createUser(
    username,
    roles.map((r) => (orgWide(r.role) ? r : { project: 'desktop', ...r })),
  );
  return { ...user, kubeconfig: await z.kubeconfig(CLUSTER, user.apiKey) };
}

const as = (kubeconfig: string, args: string[]) => kubectl(args, { kubeconfig });
const refused = (p: Promise<unknown>, pattern = /Forbidden|forbidden/) =>
  assert.rejects(p, (err: KubectlError) => {
    assert.match(err.stderr, pattern);
    return true;
  });

async function waitUntil(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
    await sleep(100);
  }
}

const saExists = async (name: string) =>
  env.admin(['get', 'serviceaccount', name, '-n', jitNs, '-o', 'name']).then(
    () => true,
    () => false,
  );
const bindingsOf = async (name: string) =>
  (
    await env.admin([
      'get',
      'clusterrolebindings,rolebindings',
      '-A',
      '-l',
      `ztka.dev/service-account=${name},ztka.dev/jit-namespace=${jitNs}`,
      '-o',
      'jsonpath={range .items[*]}{.metadata.namespace}/{.roleRef.name}{"\\n"}{end}',
    ])
  )
    .split('\n')
    .filter(Boolean)
    .sort();

test("the first kubectl call makes the person's service account, and the cluster sees them as it", async () => {
  const demos = await person('demos@rafay.co', [{ role: 'PROJECT_READ_ONLY' }]);
  assert.equal(await saExists('demos-64rafay-46co'), false);
  await as(demos.kubeconfig, ['get', 'ns']);
  const age = await env.admin([
    'get',
    'sa',
    '-n',
    jitNs,
    'demos-64rafay-46co',
    '-o',
    'jsonpath={.metadata.creationTimestamp}',
  ]);
  assert.ok(Date.now() - Date.parse(age) < 60_000, `created ${age}`);
  const whoami = await as(demos.kubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
  assert.equal(whoami.stdout, `system:serviceaccount:${jitNs}:demos-64rafay-46co`);
  assert.deepEqual(await bindingsOf('demos-64rafay-46co'), ['/ztka-read-only']);
});

test("the cluster's audit log carries the controller's audit id with the person's service account", async () => {
  const token = await z.kubeToken(CLUSTER);
  const auditId = await new Promise<string>((resolve, reject) =>
    https
      .get(
        `${z.url}/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`,
        { ca: z.ca, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          res.resume();
          resolve(String(res.headers['audit-id'] ?? ''));
        },
      )
      .on('error', reject),
  );
  assert.match(auditId, /^[0-9a-f-]{36}$/);
  await waitUntil(10_000, 'the audit event', async () => {
    const log = await fs.readFile(env.auditLog, 'utf8');
    return log
      .split('\n')
      .some((line) => line.includes(auditId) && line.includes(`system:serviceaccount:${jitNs}:admin`));
  });
});

describe("the role matrix on the cluster's own RBAC", () => {
  test('ADMIN creates a namespace', async () => {
    const admin = await person('org-admin@example.com', [{ role: 'ADMIN' }]);
    const name = `jit-admin-${Date.now()}`;
    await as(admin.kubeconfig, ['create', 'namespace', name]);
    await env.admin(['delete', 'namespace', name, '--wait=false']);
  });

  test('PROJECT_READ_ONLY lists pods, and the cluster itself denies writes, secrets, exec and port-forward', async () => {
    const reader = await person('reader@example.com', [{ role: 'PROJECT_READ_ONLY' }]);
    await as(reader.kubeconfig, ['get', 'pods', '-A']);
    const canI = async (...args: string[]) =>
      (
        await as(reader.kubeconfig, ['auth', 'can-i', ...args]).catch((err: KubectlError) => err)
      ).stdout.trim();
    // Asked of the apiserver (a SelfSubjectAccessReview), so this is the cluster's RBAC, not ztka's guard.
    assert.equal(await canI('list', 'pods', '-A'), 'yes');
    assert.equal(await canI('delete', 'pods', '-n', 'default'), 'no');
    assert.equal(await canI('get', 'secrets', '-n', 'default'), 'no');
    assert.equal(await canI('create', 'pods/exec', '-n', 'default'), 'no');
    assert.equal(await canI('create', 'pods/portforward', '-n', 'default'), 'no');
    await refused(as(reader.kubeconfig, ['delete', 'configmap', 'kube-root-ca.crt', '-n', 'default']));
    await refused(as(reader.kubeconfig, ['get', 'secrets', '-n', 'default']));
  });

  test('NAMESPACE_ADMIN manages its namespace only; a role change converges and leaves no stale binding', async () => {
    const nsAdmin = await person('ns-admin@example.com', [
      { role: 'NAMESPACE_ADMIN', namespaces: [teamA.name] },
    ]);
    const sa = 'ns-45admin-64example-46com';
    await as(nsAdmin.kubeconfig, ['create', 'configmap', 'mine', '-n', teamA.name]);
    await as(nsAdmin.kubeconfig, ['delete', 'configmap', 'mine', '-n', teamA.name]);
    await refused(as(nsAdmin.kubeconfig, ['create', 'configmap', 'theirs', '-n', teamB.name]));
    await refused(as(nsAdmin.kubeconfig, ['create', 'namespace', 'not-mine']));
    const canI = async (...args: string[]) =>
      (
        await as(nsAdmin.kubeconfig, ['auth', 'can-i', ...args]).catch((err: KubectlError) => err)
      ).stdout.trim();
    assert.equal(await canI('create', 'pods', '-n', teamA.name), 'yes');
    assert.equal(await canI('create', 'pods', '-n', teamB.name), 'no');
    assert.deepEqual(await bindingsOf(sa), [`${teamA.name}/admin`]);

    // Move them from team-a to team-b: the next request acts with the new role only.
    const roles = await z.api<{ items: { id: string }[] }>(
      'GET',
      '/v1/role-assignments?user=ns-admin@example.com',
    );
    await z.api('DELETE', `/v1/role-assignments/${roles.body.items[0]?.id ?? ''}`);
    await z.api('POST', '/v1/role-assignments', {
      user: 'ns-admin@example.com',
      role: 'NAMESPACE_ADMIN',
      project: 'desktop',
      namespaces: [teamB.name],
    });
    await as(nsAdmin.kubeconfig, ['create', 'configmap', 'moved', '-n', teamB.name]);
    await refused(as(nsAdmin.kubeconfig, ['create', 'configmap', 'old', '-n', teamA.name]));
    assert.deepEqual(await bindingsOf(sa), [`${teamB.name}/admin`]);
  });
});

test('hostile usernames get valid, distinct service accounts', async () => {
  const names = [
    'x.y+z@example.com',
    'x-46y-43z@example.com',
    `${'a'.repeat(190)}@example.com`,
    `${'a'.repeat(190)}@example.org`,
  ];
  const accounts = new Set<string>();
  for (const username of names) {
    const p = await person(username, [{ role: 'PROJECT_READ_ONLY' }]);
    const who = (await as(p.kubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']))
      .stdout;
    const sa = who.slice(`system:serviceaccount:${jitNs}:`.length);
    assert.match(sa, new RegExp(DNS_LABEL_PATTERN), who);
    accounts.add(sa);
  }
  assert.equal(accounts.size, names.length);
});

test('revocation ends an open watch, refuses new requests and removes the service account within 5 s', async () => {
  const watcher = await person('watcher@example.com', [{ role: 'PROJECT_READ_ONLY' }]);
  const sa = 'watcher-64example-46com';
  const watch = startKubectl(['get', 'pods', '-n', 'default', '-w'], { kubeconfig: watcher.kubeconfig });
  const exited = new Promise<number | null>((resolve) => watch.on('exit', resolve));
  await waitUntil(10_000, 'the service account', () => saExists(sa));
  await sleep(500);
  const disabledAt = Date.now();
  assert.equal((await z.api('POST', '/v1/users/watcher@example.com/disable')).status, 200);
  const code = await Promise.race([exited, sleep(5000).then(() => 'still running')]);
  assert.notEqual(code, 'still running', 'the watch was not ended');
  await refused(as(watcher.kubeconfig, ['get', 'ns']), /Unauthorized|credentials/);
  await waitUntil(
    5000 - (Date.now() - disabledAt),
    'the service account removed',
    async () => !(await saExists(sa)),
  );
  assert.deepEqual(await bindingsOf(sa), []);
});

test('an idle service account expires on time, and a token captured before dies with it', async () => {
  assert.equal((await z.api('PATCH', '/v1/settings', { saLifetimeSeconds: 10 })).status, 200);
  try {
    const brief = await person('brief@example.com', [{ role: 'PROJECT_READ_ONLY' }]);
    const sa = 'brief-64example-46com';
    await as(brief.kubeconfig, ['get', 'ns']);
    assert.ok(await saExists(sa));
    // A token of the service account, as someone who captured one would hold it.
    const captured = (await env.admin(['create', 'token', sa, '-n', jitNs, '--duration=1h'])).trim();
    const ca = await fs.readFile(path.join(env.pkiDir, 'ca.crt'), 'utf8');
    const direct = (token: string) =>
      new Promise<number>((resolve, reject) =>
        https
          .get(
            `${env.apiserverUrl}/api/v1/namespaces`,
            { ca, headers: { authorization: `Bearer ${token}` } },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
          .on('error', reject),
      );
    assert.equal(await direct(captured), 200);
    const expires = Date.parse(
      await env.admin([
        'get',
        'sa',
        sa,
        '-n',
        jitNs,
        '-o',
        'jsonpath={.metadata.annotations.ztka\\.dev/expires-at}',
      ]),
    );
    assert.ok(
      expires - Date.now() <= 10_000 && expires > Date.now(),
      `expires ${new Date(expires).toISOString()}`,
    );
    await sleep(Math.max(0, expires - Date.now()));
    await waitUntil(3000, 'the sweeper removing it', async () => !(await saExists(sa)));
    assert.deepEqual(await bindingsOf(sa), []);
    await waitUntil(5000, 'the captured token refused', async () => (await direct(captured)) === 401);
  } finally {
    await z.api('PATCH', '/v1/settings', { saLifetimeSeconds: 8 * 3600 });
  }
});

test('an agent that was offline during a revocation converges when it reconnects', async () => {
  const away = await person('away@example.com', [{ role: 'PROJECT_READ_ONLY' }]);
  const stays = await person('stays@example.com', [{ role: 'PROJECT_READ_ONLY' }]);
  await as(away.kubeconfig, ['get', 'ns']);
  await as(stays.kubeconfig, ['get', 'ns']);
  assert.ok((await saExists('away-64example-46com')) && (await saExists('stays-64example-46com')));

  await z.stopAgent(CLUSTER);
  await z.waitForConnected(CLUSTER, false);
  assert.equal((await z.api('DELETE', '/v1/users/away@example.com')).status, 204);
  assert.ok(await saExists('away-64example-46com'), 'nobody could tell the offline agent');

  await z.startAgent(CLUSTER, env.kubeconfig, undefined, { sweepIntervalMs: 500 });
  await z.waitForConnected(CLUSTER, true);
  await waitUntil(
    5000,
    "the departed person's account removed",
    async () => !(await saExists('away-64example-46com')),
  );
  // The restarted agent carries on with the accounts it finds.
  assert.ok(await saExists('stays-64example-46com'));
  await as(stays.kubeconfig, ['get', 'ns']);
});
