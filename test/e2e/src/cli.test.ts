// The `ztka` CLI against the real controller, agent and apiserver, with real kubectl: the whole
// story (an admin creates a read-only user who downloads a kubeconfig, runs kubectl, and loses access within
// a second of being disabled), and the exec-credential kubeconfig with kubectl 1.27 and 1.33, refreshing
// its token when it expires.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubectlError } from '@ztka/testenv';
import { kubectl, testEnv, Ztka, ZtkaCli, type TestEnv } from '@ztka/testenv';

const CLUSTER = 'desktop';
const TOKEN_TTL_S = 3;

let env: TestEnv;
let z: Ztka;
const clis: ZtkaCli[] = [];

async function cliFor(username: string, password: string): Promise<ZtkaCli> {
  const cli = await ZtkaCli.create();
  clis.push(cli);
  await cli.ok(
    ['login', '--server', z.url, '--ca-file', z.caFile, '--username', username, '--password-stdin'],
    {
      input: `${password}\n`,
    },
  );
  return cli;
}

before(async () => {
  env = await testEnv();
  z = await Ztka.start({ env: { ZTKA_KUBE_TOKEN_TTL_SECONDS: String(TOKEN_TTL_S) } });
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
});
after(async () => {
  await Promise.all(clis.map((c) => c.remove()));
  await z?.stop();
});

test('a new PROJECT_READ_ONLY user runs kubectl and loses access within a second of being disabled', async () => {
  const admin = await cliFor('admin', z.adminPassword);
  assert.match(await admin.ok(['whoami']), /admin[\s\S]*ADMIN/);

  await admin.ok(['users', 'create', 'demos@rafay.co', '--password-stdin'], { input: 'a-long-password\n' });
  await admin.ok([
    'roles',
    'assign',
    '--user',
    'demos@rafay.co',
    '--role',
    'PROJECT_READ_ONLY',
    '--project',
    'desktop',
  ]);
  const users = JSON.parse(await admin.ok(['users', 'list', '-o', 'json'])) as { username: string }[];
  assert.ok(users.some((u) => u.username === 'demos@rafay.co'));

  const demos = await cliFor('demos@rafay.co', 'a-long-password');
  const config = path.join(demos.home, 'demos.kubeconfig');
  await demos.ok(['kubeconfig', '--cluster', CLUSTER, '-f', config]);
  assert.equal((await fs.stat(config)).mode & 0o777, 0o600);

  const { stdout } = await kubectl(['get', 'ns', '-o', 'name'], { kubeconfig: config });
  assert.ok(stdout.split('\n').includes('namespace/kube-system'), stdout);
  await assert.rejects(
    kubectl(['delete', 'configmap', 'kube-root-ca.crt', '-n', 'default'], { kubeconfig: config }),
    (err: KubectlError) => {
      assert.match(err.stderr, /Forbidden.*read-only/);
      return true;
    },
  );

  // The user sees the cluster of their project, and no user list.
  assert.match(await demos.ok(['clusters', 'list']), new RegExp(`${CLUSTER}\\s+desktop\\s+connected`));
  const refused = await demos.run(['users', 'list']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^ztka: .*ADMIN/);
  assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line');

  await admin.ok(['users', 'disable', 'demos@rafay.co']);
  const start = Date.now();
  for (;;) {
    const failed = await kubectl(['get', 'ns', '-o', 'name'], { kubeconfig: config }).then(
      () => undefined,
      (err: KubectlError) => err,
    );
    if (failed) {
      assert.match(failed.stderr, /Unauthorized|provide credentials/);
      break;
    }
    assert.ok(Date.now() - start < 1000, 'still allowed a second after being disabled');
    await sleep(50);
  }
});

test('ztka audit shows who ran which kubectl command on which cluster, and the chain verifies', async () => {
  const admin = await cliFor('admin', z.adminPassword);
  const user = await z.createUser('auditor-demo@example.com', [
    { role: 'PROJECT_ADMIN', project: 'desktop' },
  ]);
  const kubeconfig = await z.kubeconfig(CLUSTER, user.apiKey);
  await kubectl(['get', 'configmaps', '-n', 'default'], { kubeconfig });
  const commands = JSON.parse(
    await admin.ok(['audit', 'commands', '--user', user.username, '-o', 'json']),
  ) as { user: string; cluster: string; command: string; source: string }[];
  assert.deepEqual(
    commands.map((c) => [c.user, c.cluster, c.command, c.source]),
    [[user.username, CLUSTER, 'kubectl get', 'kubectl']],
  );
  const table = await admin.ok([
    'audit',
    'api',
    '--cluster',
    CLUSTER,
    '--user',
    user.username,
    '--limit',
    '5',
  ]);
  assert.match(table, /auditor-demo@example\.com\s+desktop\s+list\s+default\/configmaps\s+200/);
  assert.match(await admin.ok(['audit', 'verify']), /^audit trail verified: \d+ records/);
  const csv = path.join(admin.home, 'audit.csv');
  await admin.ok(['audit', 'export', '--format', 'csv', '--user', user.username, '-f', csv]);
  assert.match(await fs.readFile(csv, 'utf8'), /^seq,at,kind,[\s\S]*auditor-demo@example\.com/);
});

test('bad input through the CLI is one clear line and a non-zero exit, and changes nothing', async () => {
  const admin = await cliFor('admin', z.adminPassword);
  const cases: [string[], RegExp][] = [
    [['projects', 'create', 'Not_A_Label'], /^ztka: field \/name must be a DNS-1123 label/],
    [['users', 'create', 'bad user'], /^ztka: .*username/],
    [['roles', 'assign', '--user', 'admin', '--role', 'KING'], /^ztka: .*role/i],
    [['settings', 'set', 'sa-lifetime', '5x'], /^ztka: .*duration/i],
    [['settings', 'set', 'sa-lifetime', '1s'], /^ztka: .*saLifetimeSeconds/],
    [['clusters', 'delete', 'nowhere'], /^ztka: unknown cluster "nowhere"/],
  ];
  for (const [args, message] of cases) {
    const res = await admin.run(args);
    assert.notEqual(res.code, 0, args.join(' '));
    assert.match(res.stderr, message, args.join(' '));
    assert.equal(res.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${res.stderr}`);
  }
  await admin.ok(['projects', 'create', 'dup']);
  const dup = await admin.run(['projects', 'create', 'dup']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /^ztka: project "dup" already exists/);
  const settings = JSON.parse(await admin.ok(['settings', 'get', '-o', 'json'])) as Record<string, unknown>;
  assert.equal(settings['saLifetimeSeconds'], 8 * 3600, 'a refused setting changed nothing');
});

for (const version of ['1.27', '1.33'] as const) {
  test(`the exec-credential kubeconfig works with kubectl ${version} and refreshes an expired token`, async () => {
    const user = await z.createUser(`exec-${version.replace('.', '-')}@example.com`, [
      { role: 'PROJECT_ADMIN', project: 'desktop' },
    ]);
    const cli = await cliFor(user.username, user.password);
    const config = path.join(cli.home, 'exec.kubeconfig');
    await cli.ok(['kubeconfig', '--cluster', CLUSTER, '--exec', '-f', config]);
    const text = await fs.readFile(config, 'utf8');
    assert.match(text, /command: ztka/);
    assert.doesNotMatch(text, /token:/, 'the exec kubeconfig holds no secret');

    const whoami = () =>
      kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig: config, version, env: cli.env });
    assert.equal((await whoami()).stdout.trim(), 'namespace/default');
    const first = await cli.ok(['token', '--cluster', CLUSTER]);
    const { status } = JSON.parse(first) as { status: { token: string; expirationTimestamp: string } };
    assert.ok(Date.parse(status.expirationTimestamp) - Date.now() <= TOKEN_TTL_S * 1000);

    // Past the token's lifetime: the old token is refused, and kubectl still works, with a new one.
    await sleep(TOKEN_TTL_S * 1000 + 200);
    const old = await z.api('GET', `/k8s/clusters/${CLUSTER}/api`, undefined, status.token);
    assert.equal(old.status, 401);
    assert.equal((await whoami()).stdout.trim(), 'namespace/default');
    const second = JSON.parse(await cli.ok(['token', '--cluster', CLUSTER])) as { status: { token: string } };
    assert.notEqual(second.status.token, status.token);
  });
}
