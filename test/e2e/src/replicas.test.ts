// Two controller replicas on one real PostgreSQL: a change made through one reaches requests in flight on
// the other at once (the change bridge: NOTIFY/LISTEN), not at its next cache expiry. The cluster's agent is
// connected to replica B; the person's watch goes through B; the admin revokes through A.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openPostgres } from '@ztka/controller/store/postgres';
import {
  kubectl,
  kubectlPath,
  startPostgres,
  testEnv,
  Ztka,
  type PostgresServer,
  type TestEnv,
} from '@ztka/testenv';
import { kubeconfigVia } from './support/replicas.js';

const CLUSTER = 'replicated';
let env: TestEnv;
let pg: PostgresServer;
let a: Ztka;
let b: Ztka;

before(async () => {
  env = await testEnv();
  pg = await startPostgres();
  a = await Ztka.start({ env: { ZTKA_DATABASE: pg.url } });
  b = await Ztka.start({ env: { ZTKA_DATABASE: pg.url }, adminPassword: a.adminPassword });
  await b.connectCluster(CLUSTER, env.kubeconfig, CLUSTER);
});
after(async () => {
  await b?.stop();
  await a?.stop();
  await pg?.stop();
});

test('a role removed through replica A ends a watch held through replica B within a second', async () => {
  const person = await a.createUser('replicated@example.com', [
    { role: 'PROJECT_READ_ONLY', project: CLUSTER },
  ]);
  const kubeconfig = await kubeconfigVia(a, b, CLUSTER, person.apiKey);
  await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig });

  const watch = spawn(kubectlPath(), ['--kubeconfig', kubeconfig, 'get', 'ns', '--watch'], {
    stdio: 'ignore',
  });
  const ended = new Promise<number>((resolve) => watch.once('exit', () => resolve(Date.now())));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(watch.exitCode, null, 'the watch is open');

  const assignments = await a.api<{ items: { id: string; user?: string }[] }>(
    'GET',
    '/v1/role-assignments?user=replicated%40example.com',
  );
  const id = assignments.body.items[0]?.id;
  assert.ok(id, JSON.stringify(assignments.body));
  const revoked = Date.now();
  assert.equal((await a.api('DELETE', `/v1/role-assignments/${id}`)).status, 204);
  const at = await Promise.race([ended, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
  watch.kill();
  assert.notEqual(at, -1, 'the watch through B ended');
  assert.ok(at - revoked < 1000, `it ended ${at - revoked} ms after the revocation on A`);
  await assert.rejects(kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig }), /forbidden/i);
});

test('a person disabled through replica A cannot use B at once: credentials, and the cluster account', async () => {
  const person = await a.createUser('disabled-on-a@example.com', [
    { role: 'PROJECT_READ_ONLY', project: CLUSTER },
  ]);
  const kubeconfig = await kubeconfigVia(a, b, CLUSTER, person.apiKey);
  await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig });
  const jit = b.jitNamespaces.get(CLUSTER)?.namespace ?? '';
  const accounts = async () =>
    (await kubectl(['get', 'sa', '-n', jit, '-o', 'name'], { kubeconfig: env.kubeconfig })).stdout;
  const before = await accounts();
  // Named from the person ('-' is written -45, '@' -64, '.' -46).
  const account = /disabled-45on-45a-64example-46com/;
  assert.match(before, account, `JIT namespace ${jit}: ${before}`);
  assert.equal((await a.api('POST', '/v1/users/disabled-on-a%40example.com/disable')).status, 200);
  // B holds the agent: it is told by the bridge and has the cluster drop the account.
  const deadline = Date.now() + 5000;
  while (account.test(await accounts())) {
    assert.ok(Date.now() < deadline, 'the JIT service account is gone from the cluster');
    await new Promise((r) => setTimeout(r, 100));
  }
  await assert.rejects(
    kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig }),
    /Unauthorized|unauthorized/,
  );
});

test('replicas started at once on a new database migrate it once and share one org and admin', async () => {
  const fresh = await startPostgres();
  const started: Ztka[] = [];
  try {
    const password = 'replicas-started-at-once-1';
    const all = await Promise.all(
      [1, 2, 3].map(() => Ztka.start({ env: { ZTKA_DATABASE: fresh.url }, adminPassword: password })),
    );
    started.push(...all);
    const orgs = await Promise.all(
      all.map(async (r) => (await r.api<{ org: string }>('GET', '/v1/auth/whoami')).body.org),
    );
    assert.deepEqual(orgs, ['default', 'default', 'default']);
    const users = await all[0]?.api<{ items: { username: string }[] }>('GET', '/v1/users');
    assert.deepEqual(
      users?.body.items.map((u) => u.username),
      ['admin'],
      'one admin, not three',
    );
  } finally {
    await Promise.all(started.map((r) => r.stop()));
    await fresh.stop();
  }
});

test('a replica older than its database refuses to start, and says why', async () => {
  // What a newer controller leaves: a migration this one does not know.
  const db = openPostgres(pg.url);
  const migrations = db.withTables<{ kysely_migration: { name: string; timestamp: string } }>();
  const future = { name: '999_from_a_newer_controller', timestamp: new Date().toISOString() };
  await migrations.insertInto('kysely_migration').values(future).execute();
  try {
    await assert.rejects(
      Ztka.start({ env: { ZTKA_DATABASE: pg.url }, adminPassword: a.adminPassword }),
      /999_from_a_newer_controller/,
    );
  } finally {
    await migrations.deleteFrom('kysely_migration').where('name', '=', future.name).execute();
    await db.destroy();
  }
});
