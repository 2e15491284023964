// Security hardening, issue item 6: nobody can grow the trail without bound. A person is rate-limited across
// every credential they hold, an address across the requests it sends without one; an over-limit request
// gets 429 with Retry-After (which kubectl honours) and is counted rather than copied into the trail.
// Real controller, agent, apiserver and kubectl.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { kubectl, testEnv, Ztka, type TestEnv } from '@ztka/testenv';

const CLUSTER = 'desktop';
/** Requests per second, averaged over the controller's 10 s window: 50 and 20 per window. */
const PER_PERSON = 5;
const PER_ADDRESS = 2;
let env: TestEnv;
let z: Ztka;

before(async () => {
  env = await testEnv();
  z = await Ztka.start({
    env: {
      ZTKA_RATE_LIMIT_PER_PERSON: String(PER_PERSON),
      ZTKA_RATE_LIMIT_PER_ADDRESS: String(PER_ADDRESS),
    },
  });
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
});
after(() => z?.stop());

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

function get(path: string, token?: string, agent?: https.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    https
      .get(
        `${z.url}${path}`,
        { ca: z.ca, agent, headers: token ? { authorization: `Bearer ${token}` } : {} },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }),
          );
        },
      )
      .on('error', reject);
  });
}

const count = (answers: Answer[], status: number) => answers.filter((a) => a.status === status).length;

interface ApiRecord {
  seq: number;
  user: string | null;
  status: number;
  verb: string;
  repeated?: number;
}

async function records(query: string): Promise<ApiRecord[]> {
  const res = await z.api<{ items: ApiRecord[] }>('GET', `/v1/audit/api?limit=500&${query}`);
  assert.equal(res.status, 200);
  return res.body.items;
}

test('a person past their rate gets 429 with Retry-After on every credential; others are served', async () => {
  const flooder = await z.createUser('flooder@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const bystander = await z.createUser('bystander@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const token = await z.kubeToken(CLUSTER, flooder.apiKey);
  // Fetched now: once over the limit, the flooder's API key is refused too.
  const kubeconfig = await z.kubeconfig(CLUSTER, flooder.apiKey);
  const other = await z.kubeToken(CLUSTER, bystander.apiKey);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  const answers = await Promise.all(
    Array.from({ length: 120 }, () =>
      get(`/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`, token, agent),
    ),
  );
  // The window may turn during the burst, so at most two windows' worth are served.
  const served = count(answers, 200);
  assert.ok(served >= PER_PERSON * 10 - 2 && served <= PER_PERSON * 20, `${served} served`);
  assert.equal(served + count(answers, 429), 120, JSON.stringify(answers.map((a) => a.status)));
  const refused = answers.find((a) => a.status === 429);
  assert.ok(refused && Number(refused.retryAfter) >= 1 && Number(refused.retryAfter) <= 10);
  assert.equal((JSON.parse(refused.body) as { reason: string }).reason, 'TooManyRequests');

  // The same person with another credential (their API key, on the REST API) is over the same limit.
  const viaApi = await get('/v1/clusters', flooder.apiKey);
  assert.equal(viaApi.status, 429, viaApi.body);
  // Someone else, from the same address, is served.
  assert.equal((await get(`/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`, other, agent)).status, 200);
  agent.destroy();

  // kubectl waits as told and retries by itself: the command succeeds once the window turns.
  const started = Date.now();
  const out = await kubectl(['get', 'namespace', 'default', '-o', 'name'], { kubeconfig, timeoutMs: 60_000 });
  assert.equal(out.stdout.trim(), 'namespace/default');
  console.log(`kubectl over the limit succeeded after ${Date.now() - started} ms of honoured Retry-After`);
});

test('the throttled requests are one full record and one count in the trail', async () => {
  const person = await z.createUser('counted@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const token = await z.kubeToken(CLUSTER, person.apiKey);
  const before = new Set((await records('status=429')).map((r) => r.seq));
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  const answers = await Promise.all(
    Array.from({ length: 150 }, () =>
      get(`/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`, token, agent),
    ),
  );
  agent.destroy();
  const throttled = count(answers, 429);
  assert.ok(throttled >= 50, `${throttled} throttled`);
  // Counts are recorded when their interval ends or the controller stops.
  await z.restartController();
  const mine = (await records('status=429')).filter((r) => !before.has(r.seq) && r.user === person.username);
  const full = mine.filter((r) => r.repeated === undefined);
  const counted = mine.reduce((n, r) => n + (r.repeated ?? 0), 0);
  assert.ok(full.length >= 1 && full.length <= 2, `${full.length} throttled requests recorded in full`);
  assert.equal(full.length + counted, throttled, JSON.stringify(mine));
  assert.ok(mine.filter((r) => r.repeated).every((r) => r.verb === 'throttled'));
  await z.waitForConnected(CLUSTER, true);
});

test('an address sending requests without a credential is slowed; credentials from it still work', async () => {
  const token = await z.kubeToken(CLUSTER);
  const answers: Answer[] = [];
  for (let i = 0; i < PER_ADDRESS * 10 + 10; i++)
    answers.push(await get(`/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`, `forged-${i}`));
  const statuses = answers.map((a) => a.status);
  assert.ok(count(answers, 401) >= PER_ADDRESS * 10 - 1, JSON.stringify(statuses));
  assert.ok(count(answers, 429) >= 9, JSON.stringify(statuses));
  assert.equal(count(answers, 401) + count(answers, 429), answers.length);
  // The REST API counts against the same address.
  assert.equal((await get('/v1/clusters', 'forged-api-key')).status, 429);
  // A valid credential from the same address is not the sender being slowed.
  assert.equal((await get(`/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`, token)).status, 200);
});
