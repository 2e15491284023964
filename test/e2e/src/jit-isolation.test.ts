// The security review's findings on just-in-time service accounts, attacked on the real system (the real
// controller and agent, the real apiserver, real kubectl): no two people share an account, nobody takes
// over an account that is not theirs, and no role — an org admin's included — reaches the namespace that
// holds the accounts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  kubectl,
  namespace,
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
let adminKubeconfig: string;
let teamA: TestNamespace;
let teamB: TestNamespace;

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
  jitNs = z.jitNamespaces.get(CLUSTER)?.namespace ?? '';
  [teamA, teamB] = await Promise.all([namespace(env, 'team-a'), namespace(env, 'team-b')]);
  adminKubeconfig = await z.kubeconfig(CLUSTER);
  // The org admin's first request makes the JIT namespace and their cluster-admin account in it.
  await kubectl(['get', 'ns'], { kubeconfig: adminKubeconfig });
});
after(async () => {
  await Promise.all([teamA?.cleanup(), teamB?.cleanup()]);
  await z?.stop();
});

type Roles = { role: string; project?: string; namespaces?: string[] }[];

async function person(username: string, roles: Roles) {
  const user = await z.createUser(
    username,
    roles.map((r) => ({ project: 'desktop', ...r })),
  );
  return { ...user, kubeconfig: await z.kubeconfig(CLUSTER, user.apiKey) };
}

const as = (kubeconfig: string, args: string[]) => kubectl(args, { kubeconfig });
const refused = (p: Promise<unknown>, pattern: RegExp) =>
  assert.rejects(p, (err: KubectlError) => {
    assert.match(err.stderr, pattern);
    return true;
  });
const whoami = async (kubeconfig: string) =>
  (await as(kubeconfig, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).stdout;
const canI = async (kubeconfig: string, ...args: string[]) =>
  (await as(kubeconfig, ['auth', 'can-i', ...args]).catch((err: KubectlError) => err)).stdout.trim();
const accountOf = (who: string) => who.slice(`system:serviceaccount:${jitNs}:`.length);

const annotation = (sa: string, key: string) =>
  env.admin([
    'get',
    'sa',
    sa,
    '-n',
    jitNs,
    '-o',
    `jsonpath={.metadata.annotations.${key.replaceAll('.', '\\.')}}`,
  ]);
const bindingsOf = async (sa: string) =>
  (
    await env.admin([
      'get',
      'clusterrolebindings,rolebindings',
      '-A',
      '-l',
      `ztka.dev/service-account=${sa},ztka.dev/jit-namespace=${jitNs}`,
      '-o',
      'jsonpath={range .items[*]}{.metadata.namespace}/{.roleRef.name}{"\\n"}{end}',
    ])
  )
    .split('\n')
    .filter(Boolean)
    .sort();
const saExists = (name: string) =>
  env.admin(['get', 'sa', name, '-n', jitNs, '-o', 'name']).then(
    () => true,
    () => false,
  );

async function waitUntil(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms`);
    await sleep(100);
  }
}

describe('no two people share an account', () => {
  test('two usernames crafted to collide get accounts of their own, each with their own role', async () => {
    // Under the former mapping both became firstname-46lastname-64platform-45engineering188-46e-95464595e3
    // (names.test.ts checks that premise): the second person took over the first's account and bindings.
    const victim = await person('firstname.lastname@platform-engineering188.example.com', [
      { role: 'NAMESPACE_ADMIN', namespaces: [teamA.name] },
    ]);
    const attacker = await person('firstname.lastname@platform-engineering188.e_464595e3', [
      { role: 'NAMESPACE_READ_ONLY', namespaces: [teamB.name] },
    ]);
    const victimSa = accountOf(await whoami(victim.kubeconfig));
    const attackerSa = accountOf(await whoami(attacker.kubeconfig));
    assert.notEqual(victimSa, attackerSa);
    // Each request of one, interleaved with the other's, finds the bindings of its own role only.
    for (let round = 0; round < 2; round++) {
      await as(victim.kubeconfig, ['create', 'configmap', `v${round}`, '-n', teamA.name]);
      await as(attacker.kubeconfig, ['get', 'configmaps', '-n', teamB.name]);
      assert.equal(await canI(attacker.kubeconfig, 'create', 'configmaps', '-n', teamA.name), 'no');
      assert.equal(await canI(victim.kubeconfig, 'create', 'configmaps', '-n', teamA.name), 'yes');
      assert.deepEqual(await bindingsOf(victimSa), [`${teamA.name}/admin`]);
      assert.deepEqual(await bindingsOf(attackerSa), [`${teamB.name}/view`]);
    }
    assert.notEqual(await annotation(victimSa, 'ztka.dev/user-id'), '');
    assert.notEqual(
      await annotation(victimSa, 'ztka.dev/user-id'),
      await annotation(attackerSa, 'ztka.dev/user-id'),
    );

    // Deleting one deletes their account only.
    assert.equal((await z.api('DELETE', `/v1/users/${attacker.username}`)).status, 204);
    await waitUntil(5000, "the attacker's account removed", async () => !(await saExists(attackerSa)));
    assert.ok(await saExists(victimSa));
    await as(victim.kubeconfig, ['delete', 'configmap', 'v0', 'v1', '-n', teamA.name]);
  });

  test('a person named "default" never touches the default service account of the JIT namespace', async () => {
    const defaultSa = () =>
      env.admin(['get', 'sa', 'default', '-n', jitNs, '-o', 'jsonpath={.metadata.resourceVersion}']);
    await waitUntil(
      10_000,
      'the default service account',
      async () => (await defaultSa().catch(() => '')) !== '',
    );
    const before = await defaultSa();
    // The worst case: a cluster-admin binding on an account every pod of the namespace runs as.
    const named = await person('default', [{ role: 'PROJECT_ADMIN' }]);
    const who = await whoami(named.kubeconfig);
    assert.notEqual(who, `system:serviceaccount:${jitNs}:default`);
    assert.match(accountOf(who), /^default--[a-z2-7]{32}$/);
    assert.equal(await defaultSa(), before, 'the default service account was modified');
    assert.deepEqual(await bindingsOf('default'), []);
    // Nothing anywhere binds a default service account of a namespace that holds JIT accounts.
    const subjects = JSON.parse(
      await env.admin(['get', 'clusterrolebindings,rolebindings', '-A', '-o', 'json']),
    ) as { items: { subjects?: { kind: string; name: string; namespace?: string }[] }[] };
    const bound = subjects.items.flatMap((b) => b.subjects ?? []);
    for (const ns of [jitNs, 'ztka-system'])
      assert.ok(
        !bound.some((s) => s.kind === 'ServiceAccount' && s.name === 'default' && s.namespace === ns),
        ns,
      );
  });
});

describe('an account recorded for someone else is never taken over', () => {
  test('one annotated for another owner, or not made by ztka, is refused with a Status and left alone', async () => {
    // What either attack leaves in the cluster: a ztka account of another person at this name, or an
    // account of someone else's making.
    await env.admin(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            metadata: {
              name: 'taken-64example-46com',
              namespace: jitNs,
              labels: { 'ztka.dev/jit': 'true' },
              annotations: {
                'ztka.dev/user': 'taken@example.com',
                'ztka.dev/user-id': 'someone-else',
                // Alive, as the other person's account would be (the sweeper removes expired ones).
                'ztka.dev/expires-at': new Date(Date.now() + 3600_000).toISOString(),
              },
            },
          },
          {
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            metadata: { name: 'foreign-64example-46com', namespace: jitNs },
          },
        ],
      }),
    );
    for (const [username, sa] of [
      ['taken@example.com', 'taken-64example-46com'],
      ['foreign@example.com', 'foreign-64example-46com'],
    ] as const) {
      const p = await person(username, [{ role: 'PROJECT_ADMIN' }]);
      await refused(
        as(p.kubeconfig, ['get', 'ns']),
        new RegExp(`Forbidden.*service account "${sa}" .* is not this person's just-in-time account`),
      );
      assert.deepEqual(await bindingsOf(sa), []);
    }
    assert.equal(await annotation('taken-64example-46com', 'ztka.dev/user-id'), 'someone-else');
    assert.equal(await annotation('foreign-64example-46com', 'ztka.dev/user'), '');
  });

  test('a username taken again after its person was deleted gets a fresh account, not the old one', async () => {
    const sa = 'again-64example-46com';
    const first = await person('again@example.com', [{ role: 'PROJECT_ADMIN' }]);
    await as(first.kubeconfig, ['get', 'ns']);
    const firstId = await annotation(sa, 'ztka.dev/user-id');
    // The agent is away while the person is deleted and the name given to someone else.
    await z.stopAgent(CLUSTER);
    await z.waitForConnected(CLUSTER, false);
    assert.equal((await z.api('DELETE', '/v1/users/again@example.com')).status, 204);
    const second = await person('again@example.com', [{ role: 'PROJECT_READ_ONLY' }]);
    await z.startAgent(CLUSTER, env.kubeconfig);
    await z.waitForConnected(CLUSTER, true);
    // The controller's sync on connect names who may hold an account, by id: the old one goes.
    await waitUntil(5000, 'the old account removed', async () => !(await saExists(sa)));
    await as(second.kubeconfig, ['get', 'ns']);
    const secondId = await annotation(sa, 'ztka.dev/user-id');
    assert.notEqual(secondId, firstId);
    assert.deepEqual(await bindingsOf(sa), ['/ztka-read-only']);
    assert.equal(await canI(second.kubeconfig, 'create', 'namespaces'), 'no');
  });
});

describe('the JIT namespace is out of every role’s reach', () => {
  test('no role assignment may name it, nor ztka-system', async () => {
    await z.api('POST', '/v1/groups', { name: 'jit-ops' });
    const user = await z.createUser('would-be@example.com');
    for (const subject of [{ user: user.username }, { group: 'jit-ops' }])
      for (const role of ['NAMESPACE_ADMIN', 'NAMESPACE_READ_ONLY'])
        for (const ns of [jitNs, 'ztka-system']) {
          const res = await z.api<{ code: string; message: string; field: string }>(
            'POST',
            '/v1/role-assignments',
            {
              ...subject,
              role,
              project: 'desktop',
              namespaces: [teamA.name, ns].sort(),
            },
          );
          assert.equal(res.status, 400, JSON.stringify(res.body));
          assert.equal(res.body.field, `/namespaces/${[teamA.name, ns].sort().indexOf(ns)}`);
          assert.match(res.body.message, new RegExp(`"${ns}" holds ztka's just-in-time service accounts`));
        }
    const held = await z.api<{ items: unknown[] }>('GET', `/v1/role-assignments?user=${user.username}`);
    assert.deepEqual(held.body.items, []);
  });

  test("an org admin's requests into it are refused, whatever the verb or path", async () => {
    const admin = adminKubeconfig;
    const jitRefusal = /[Ff]orbidden.*holds ztka's just-in-time service accounts/;
    assert.equal(accountOf(await whoami(admin)), 'admin');
    for (const ns of [jitNs, 'ztka-system']) {
      await refused(as(admin, ['get', 'sa', '-n', ns]), jitRefusal);
      await refused(as(admin, ['create', 'token', 'admin', '-n', ns]), jitRefusal);
      await refused(as(admin, ['create', 'serviceaccount', 'mine', '-n', ns]), jitRefusal);
      await refused(as(admin, ['run', 'steal', '--image=busybox', '-n', ns]), jitRefusal);
      await refused(as(admin, ['get', 'ns', ns]), jitRefusal);
      await refused(as(admin, ['label', 'ns', ns, 'taken=yes']), jitRefusal);
      await refused(as(admin, ['delete', 'ns', ns, '--wait=false']), jitRefusal);
      await refused(as(admin, ['get', 'sa', '-A', `--field-selector=metadata.namespace=${ns}`]), jitRefusal);
      await refused(as(admin, ['get', 'ns', `--field-selector=metadata.name=${ns}`]), jitRefusal);
    }
    // The raw TokenRequest, as any HTTP client would send it.
    const token = await z.kubeToken(CLUSTER);
    const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        `${z.url}/k8s/clusters/${CLUSTER}/api/v1/namespaces/${jitNs}/serviceaccounts/admin/token`,
        {
          method: 'POST',
          ca: z.ca,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} }));
    });
    assert.equal(raw.status, 403);
    const status = JSON.parse(raw.body) as { kind: string; reason: string; status: string };
    assert.deepEqual([status.kind, status.reason, status.status], ['Status', 'Forbidden', 'Failure']);
    assert.doesNotMatch(raw.body, /"token"/);

    // Nothing was done there, and listing across namespaces is still the cluster's RBAC to decide.
    assert.equal(await env.admin(['get', 'ns', jitNs, '-o', 'jsonpath={.metadata.labels.taken}']), '');
    assert.equal(await saExists('mine'), false);
    await as(admin, ['get', 'sa', '-A']);
    await as(admin, ['get', 'ns']);

    // Each refusal is in the audit trail as a 403.
    const audit = await z.api<{ items: { status?: number; namespace?: string }[] }>(
      'GET',
      `/v1/audit/api?cluster=${CLUSTER}&namespace=${jitNs}`,
    );
    assert.ok(audit.body.items.length > 0, JSON.stringify(audit.body));
    assert.ok(
      audit.body.items.every((r) => r.status === 403),
      JSON.stringify(audit.body.items),
    );
  });
});
