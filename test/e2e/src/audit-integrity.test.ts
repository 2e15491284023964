// What the audit trail must hold whatever the controller or its clients do: a write that reached the
// cluster is on record even when the controller is killed while forwarding it (issue 14, item 14); the
// Commands view tells what the server saw from what the client claimed (item 7); and nobody can flood the
// trail (item 6). Real controller, agent, apiserver and kubectl.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { kubectl, testEnv, Ztka, type TestEnv } from '@ztka/testenv';

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
  verb: string;
  status: number;
  requestURI: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
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

/** One request through the proxy; resolves with the status, or rejects when the connection is cut. */
function request(
  method: string,
  path: string,
  opts: { token?: string; body?: string; headers?: Record<string, string>; agent?: https.Agent } = {},
): Promise<{ status: number; body: string; auditId: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${z.url}/k8s/clusters/${CLUSTER}${path}`,
      {
        method,
        ca: z.ca,
        agent: opts.agent,
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            auditId: String(res.headers['audit-id'] ?? ''),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function freshNamespace(prefix: string): Promise<string> {
  const ns = `${prefix}-${Date.now().toString(36)}`;
  await kubectl(['create', 'namespace', ns], { kubeconfig: env.kubeconfig });
  return ns;
}

test('a write is on record before it is forwarded, and its answer completes the same request', async () => {
  const ns = await freshNamespace('audit-stages');
  const token = await z.kubeToken(CLUSTER);
  const created = await request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
    token,
    body: JSON.stringify({ metadata: { name: 'one' } }),
  });
  assert.equal(created.status, 201, created.body);
  const read = await request('GET', `/api/v1/namespaces/${ns}/configmaps/one`, { token });
  assert.equal(read.status, 200);

  const mine = await records(`namespace=${ns}`);
  const write = mine.filter((r) => r.id === created.auditId).sort((a, b) => a.seq - b.seq);
  assert.deepEqual(
    write.map((r) => [r.stage, r.verb, r.status]),
    [
      ['RequestReceived', 'create', 0],
      ['ResponseComplete', 'create', 201],
    ],
  );
  // A read keeps its single record.
  assert.deepEqual(
    mine.filter((r) => r.id === read.auditId).map((r) => [r.stage, r.verb, r.status]),
    [['ResponseComplete', 'get', 200]],
  );
});

test('kill -9 under write load: every object created through ztka is on record, and the chain verifies', async () => {
  const ns = await freshNamespace('audit-crash');
  const token = await z.kubeToken(CLUSTER);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  let created = 0;
  let stop = false;
  let killed: () => void = () => undefined;
  const enoughWritten = new Promise<void>((resolve) => (killed = resolve));
  const workers = Array.from({ length: 12 }, async (_, w) => {
    for (let n = 0; !stop; n++) {
      const name = `cm-${w}-${n}`;
      // The field manager is stored on the object by the apiserver: it names the request from the
      // cluster's side, so each object can be matched to the trail without trusting the client.
      const r = await request('POST', `/api/v1/namespaces/${ns}/configmaps?fieldManager=${name}`, {
        token,
        agent,
        body: JSON.stringify({ metadata: { name }, data: { n: String(n) } }),
      }).catch(() => undefined);
      if (r?.status === 201 && ++created >= 150) killed();
    }
  });
  await enoughWritten;
  await z.killController();
  stop = true;
  await Promise.all(workers);
  agent.destroy();
  await z.restartController();
  // The tests after this one go through the tunnel, which the agent redials after its own backoff.
  await z.waitForConnected(CLUSTER, true);

  const inCluster = JSON.parse(
    (
      await kubectl(['get', 'configmaps', '-n', ns, '-o', 'json', '--show-managed-fields'], {
        kubeconfig: env.kubeconfig,
      })
    ).stdout,
  ) as { items: { metadata: { name: string; managedFields?: { manager?: string }[] } }[] };
  const managers = inCluster.items
    .filter((o) => o.metadata.name.startsWith('cm-'))
    .map((o) => o.metadata.managedFields?.[0]?.manager ?? `(no manager on ${o.metadata.name})`);
  assert.ok(managers.length >= created, `${managers.length} objects but ${created} 201s`);

  const trail = (await records(`namespace=${ns}&verb=create`)).map((r) => r.requestURI);
  const recorded = new Set(trail.map((uri) => new URL(uri, 'https://x').searchParams.get('fieldManager')));
  const missing = managers.filter((m) => !recorded.has(m));
  assert.deepEqual(missing, [], `${missing.length} of ${managers.length} objects have no record at all`);
  const cutOff =
    managers.length -
    new Set((await records(`namespace=${ns}&verb=create&status=201`)).map((r) => r.requestURI)).size;
  // Reported, not asserted: how many writes the kill cut off between forwarding and their answer's record.
  console.log(`${managers.length} objects, ${created} answered 201 before the kill, ${cutOff} cut off`);

  const verify = await z.api<{ ok: boolean; checked: number }>('GET', '/v1/audit/verify');
  assert.equal(verify.body.ok, true, JSON.stringify(verify.body));
});

interface CommandLine {
  source: string;
  user: string | null;
  command: string;
  clientReported: boolean;
  kubectlSession?: string;
  calls?: number;
  operations?: string[];
}

const commands = async (query = '') =>
  (await z.api<{ items: CommandLine[] }>('GET', `/v1/audit/commands?limit=500${query}`)).body.items;

test('a DELETE that claims to be `kubectl get pods` is listed as a client claim beside the delete', async () => {
  const ns = await freshNamespace('audit-lie');
  const mallory = await z.createUser('mallory@example.com', [{ role: 'PROJECT_ADMIN', project: 'desktop' }]);
  const token = await z.kubeToken(CLUSTER, mallory.apiKey);
  await request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
    token,
    body: JSON.stringify({ metadata: { name: 'victim' } }),
  });
  const session = `lie-${Date.now()}`;
  const deleted = await request('DELETE', `/api/v1/namespaces/${ns}/configmaps/victim`, {
    token,
    headers: { 'kubectl-command': 'kubectl get pods', 'kubectl-session': session },
  });
  assert.equal(deleted.status, 200, deleted.body);
  const line = (await commands('&user=mallory@example.com')).find((c) => c.kubectlSession === session);
  assert.ok(line, 'the invocation is not listed');
  assert.equal(line.command, 'kubectl get pods');
  assert.equal(line.clientReported, true);
  assert.deepEqual(line.operations, ['delete configmaps']);
  assert.equal(line.calls, 1);
});

test('an unauthenticated request is never a command, whatever its headers say', async () => {
  const session = `anon-${Date.now()}`;
  const refused = await request('DELETE', '/api/v1/namespaces/kube-system', {
    headers: {
      'kubectl-command': 'kubectl delete namespace kube-system --force',
      'kubectl-session': session,
    },
  });
  assert.equal(refused.status, 401);
  const all = await commands();
  assert.deepEqual(
    all.filter((c) => c.kubectlSession === session || c.user === null),
    [],
    'an anonymous request is listed as a command',
  );
  // Another person's Kubectl-Session does not put words in their mouth either.
  const erin = await z.createUser('erin2@example.com', [{ role: 'PROJECT_ADMIN', project: 'desktop' }]);
  const mine = `shared-${Date.now()}`;
  await request('GET', '/api/v1/namespaces', {
    token: await z.kubeToken(CLUSTER),
    headers: { 'kubectl-command': 'kubectl get ns', 'kubectl-session': mine },
  });
  await request('DELETE', '/api/v1/namespaces/default/configmaps/nothing-here', {
    token: await z.kubeToken(CLUSTER, erin.apiKey),
    headers: { 'kubectl-command': 'kubectl get ns', 'kubectl-session': mine },
  });
  const shared = (await commands()).filter((c) => c.kubectlSession === mine);
  assert.deepEqual(shared.map((c) => [c.user, c.operations]).sort(), [
    ['admin', ['list namespaces']],
    ['erin2@example.com', ['delete configmaps']],
  ]);
});

test('no client can write a command line into the trail: the route is gone', async () => {
  const posted = await z.api('POST', '/v1/audit/commands', { cluster: CLUSTER, command: 'kubectl get ns' });
  assert.equal(posted.status, 404, JSON.stringify(posted.body));
});

test('a flood of unauthenticated requests is one small record and one count, not a copy of each', async () => {
  // A fresh controller process: no earlier refusal from this address counts towards this interval.
  await z.restartController();
  // Refused 401, or 429 once the address is past its own rate limit.
  const refused = async () => [...(await records('status=401')), ...(await records('status=429'))];
  const seen = new Set((await refused()).map((r) => r.seq));
  const huge = 'x'.repeat(4000);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  const statuses = await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      request('GET', `/api/v1/namespaces/${huge}-${i}`, {
        agent,
        headers: { 'user-agent': huge, 'kubectl-command': huge, 'kubectl-session': huge },
      }).then((r) => r.status),
    ),
  );
  agent.destroy();
  assert.deepEqual([...new Set(statuses)].sort(), [401, 429]);
  const repeated = (r: ApiRecord) => (r as { repeated?: number }).repeated;
  const full = (await refused()).filter((r) => !seen.has(r.seq) && repeated(r) === undefined);
  // One per address, status and interval; more only if the flood straddled the end of an interval.
  assert.ok(full.length >= 2 && full.length <= 4, `${full.length} refused requests recorded in full`);
  const size = Math.max(...full.map((r) => JSON.stringify(r).length));
  assert.ok(size < 1500, `the record of one refused request is ${size} bytes`);
  // The count is recorded when its interval ends, or when the controller stops.
  await z.restartController();
  const summaries = (await refused()).filter((r) => !seen.has(r.seq) && repeated(r));
  const counted = summaries.reduce((n, r) => n + (repeated(r) ?? 0), 0);
  assert.equal(full.length + counted, 300, JSON.stringify(summaries));
  console.log(
    `300 unauthenticated requests with 16 KB of headers each: ${full.length} record(s) of at most ` +
      `${size} bytes and ${summaries.length} summary record(s)`,
  );
  const verify = await z.api<{ ok: boolean }>('GET', '/v1/audit/verify');
  assert.equal(verify.body.ok, true);
});
