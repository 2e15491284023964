// The audit trail end to end: real kubectl through the real controller and agent produces exactly the
// records it should (refusals and a disconnected cluster included), kubectl invocations come back as
// commands, a SIGKILL loses no record of a response a client received, and the chain verifies.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubectl, testEnv, Ztka, type KubectlError, type TestEnv } from '@ztka/testenv';

const CLUSTER = 'desktop';
let env: TestEnv;
let z: Ztka;

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
});
after(() => z?.stop());

interface ApiRecord {
  id: string;
  seq: number;
  stage: string;
  user: string | null;
  cluster: string;
  verb: string;
  status: number;
  reason?: string;
  channel?: string;
  kubectlSession?: string;
  kubectlCommand?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  command?: string[];
}

async function records(query: string): Promise<ApiRecord[]> {
  const all: ApiRecord[] = [];
  let cursor = '';
  for (;;) {
    const res = await z.api<{ items: ApiRecord[]; nextCursor?: string }>(
      'GET',
      `/v1/audit/api?limit=500${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    all.push(...res.body.items);
    if (!res.body.nextCursor) return all;
    cursor = res.body.nextCursor;
  }
}

function get(token: string, path: string, agent?: https.Agent): Promise<{ status: number; auditId: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(
        `${z.url}/k8s/clusters/${CLUSTER}${path}`,
        { ca: z.ca, agent, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, auditId: String(res.headers['audit-id'] ?? '') }),
          );
          res.on('error', reject);
        },
      )
      .on('error', reject);
  });
}

test('every request leaves exactly one record with who, what, where and the answer', async () => {
  const carol = await z.createUser('carol@example.com', [{ role: 'PROJECT_ADMIN', project: 'desktop' }]);
  const token = await z.kubeToken(CLUSTER, carol.apiKey);
  for (let i = 0; i < 20; i++)
    assert.equal((await get(token, `/api/v1/namespaces/default/configmaps?limit=${i + 1}`)).status, 200);
  const mine = await records('user=carol@example.com');
  assert.equal(mine.length, 20);
  for (const r of mine) {
    assert.deepEqual(
      [r.stage, r.cluster, r.verb, r.objectRef?.resource, r.objectRef?.namespace, r.status, r.channel],
      ['ResponseComplete', CLUSTER, 'list', 'configmaps', 'default', 200, 'cli'],
    );
  }
});

test("refusals are recorded: a bad credential (401), a role's limit (403), a disconnected cluster (503)", async () => {
  const dave = await z.createUser('dave@example.com', [{ role: 'PROJECT_READ_ONLY', project: 'desktop' }]);
  const kubeconfig = await z.kubeconfig(CLUSTER, dave.apiKey);
  await assert.rejects(
    kubectl(['delete', 'configmap', 'kube-root-ca.crt', '-n', 'default'], { kubeconfig }),
    (err: KubectlError) => /forbidden/i.test(err.stderr),
  );
  const refused = (await records('user=dave@example.com&status=403')).filter((r) => r.verb === 'delete');
  assert.equal(refused.length, 1);
  assert.match(refused[0]?.reason ?? '', /read-only/);
  assert.equal(refused[0]?.objectRef?.name, 'kube-root-ca.crt');

  const before401 = (await records('status=401')).length;
  assert.equal((await get('ztkc_not-a-real-token', '/api')).status, 401);
  const after401 = await records('status=401');
  assert.equal(after401.length, before401 + 1);
  assert.equal(after401[0]?.user, null);

  const token = await z.kubeToken(CLUSTER, dave.apiKey);
  await z.stopAgent(CLUSTER);
  await z.waitForConnected(CLUSTER, false);
  try {
    assert.equal((await get(token, '/api/v1/namespaces')).status, 503);
    const down = await records('user=dave@example.com&status=503');
    assert.equal(down.length, 1);
    assert.match(down[0]?.reason ?? '', /not connected/);
  } finally {
    await z.startAgent(CLUSTER, env.kubeconfig);
    await z.waitForConnected(CLUSTER, true);
  }
});

test('a kubectl invocation is one command with the calls it made', async () => {
  const erin = await z.createUser('erin@example.com', [{ role: 'PROJECT_ADMIN', project: 'desktop' }]);
  const kubeconfig = await z.kubeconfig(CLUSTER, erin.apiKey);
  const name = `audit-${Date.now()}`;
  await kubectl(['create', 'configmap', name, '-n', 'default', '--from-literal=a=b'], { kubeconfig });
  await kubectl(['delete', 'configmap', name, '-n', 'default'], { kubeconfig });
  const commands = await z.api<{
    items: {
      source: string;
      user: string;
      command: string;
      clientReported: boolean;
      kubectlSession?: string;
      calls?: number;
      operations?: string[];
    }[];
  }>('GET', '/v1/audit/commands?user=erin@example.com');
  const cli = commands.body.items.filter((c) => c.source === 'kubectl');
  assert.deepEqual(
    cli.map((c) => [c.command, c.clientReported]),
    [
      ['kubectl delete', true],
      ['kubectl create configmap', true],
    ],
  );
  assert.ok(cli[0]?.operations?.includes('delete configmaps'), JSON.stringify(cli[0]));
  assert.ok(cli[1]?.operations?.includes('create configmaps'), JSON.stringify(cli[1]));
  const createCalls = await records(`kubectlSession=${cli[1]?.kubectlSession ?? ''}`);
  // A call is a request: a write's RequestReceived and ResponseComplete records are one call.
  assert.equal(new Set(createCalls.map((r) => r.id)).size, cli[1]?.calls);
  assert.ok(
    createCalls.some(
      (r) => r.verb === 'create' && r.objectRef?.resource === 'configmaps' && r.status === 201,
    ),
  );
});

test('exec is recorded with its command and container, with a start and an end', async () => {
  const token = await z.kubeToken(CLUSTER);
  const before = (await records('q=exec')).length;
  // No such pod: the apiserver refuses the upgrade, and the attempt is on record anyway.
  await new Promise<void>((resolve) => {
    const req = https.request(
      `${z.url}/k8s/clusters/${CLUSTER}/api/v1/namespaces/default/pods/nobody/exec?command=sh&command=-c&command=id&container=main&stdout=true`,
      {
        method: 'POST',
        ca: z.ca,
        headers: {
          authorization: `Bearer ${token}`,
          connection: 'Upgrade',
          upgrade: 'SPDY/3.1',
          'x-stream-protocol-version': 'v4.channel.k8s.io',
        },
      },
    );
    req.on('response', (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve();
    });
    req.on('error', () => resolve());
    req.end();
  });
  await sleep(200);
  const execs = (await records('q=exec')).slice(0, (await records('q=exec')).length - before);
  assert.deepEqual(execs.map((r) => r.stage).sort(), ['ResponseComplete', 'ResponseStarted']);
  for (const r of execs) {
    assert.deepEqual(r.command, ['sh', '-c', 'id']);
    assert.equal(r.objectRef?.subresource, 'exec');
  }
});

test('a SIGKILL in a burst loses no record of a response the client received, and the chain verifies', async () => {
  const token = await z.kubeToken(CLUSTER);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 32 });
  const received: string[] = [];
  let stop = false;
  const workers = Array.from({ length: 16 }, async () => {
    while (!stop) {
      const r = await get(token, '/api/v1/namespaces/default', agent).catch(() => undefined);
      if (r?.status === 200 && r.auditId) received.push(r.auditId);
    }
  });
  await sleep(1500);
  await z.killController();
  stop = true;
  await Promise.all(workers);
  agent.destroy();
  assert.ok(received.length > 50, `only ${received.length} responses before the kill`);

  await z.restartController();
  const ids = new Set((await records('')).map((r) => r.id));
  const missing = received.filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], `${missing.length} of ${received.length} received responses have no record`);
  const verify = await z.api<{ ok: boolean; checked: number }>('GET', '/v1/audit/verify');
  assert.equal(verify.body.ok, true, JSON.stringify(verify.body));
  assert.ok(verify.body.checked >= received.length);
});

test('system events: logins, changes and agent connections are on record', async () => {
  const res = await z.api<{ items: { event: string; user: string | null }[] }>(
    'GET',
    '/v1/audit/system?limit=500',
  );
  const events = new Set(res.body.items.map((e) => e.event));
  for (const e of [
    'login',
    'user_created',
    'role_assigned',
    'kubeconfig_downloaded',
    'agent_connected',
    'agent_disconnected',
    'cluster_created',
  ])
    assert.ok(events.has(e), `no ${e} event`);
});
