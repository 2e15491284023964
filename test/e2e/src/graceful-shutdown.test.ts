// Stopping the controller (SIGTERM, as Kubernetes does on a rolling update) costs no request: it stops
// accepting, a write in flight finishes and is on record, and a watch ends cleanly so its client watches
// again. Real controller, agent and apiserver.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { namespace, testEnv, Ztka, type TestEnv } from '@ztka/testenv';

const CLUSTER = 'desktop';
let env: TestEnv;
let z: Ztka;

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
});
after(() => z?.stop());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('SIGTERM: a write in flight finishes and is on record, a watch ends cleanly, nothing new is taken', async () => {
  const ns = (await namespace(env, 'drain')).name;
  const token = await z.kubeToken(CLUSTER);
  const base = `${z.url}/k8s/clusters/${CLUSTER}/api/v1/namespaces/${ns}/configmaps`;
  const headers = { authorization: `Bearer ${token}` };

  // A watch, open and answering.
  const watch = await new Promise<IncomingMessage>((resolve, reject) =>
    https.get(`${base}?watch=1`, { ca: z.ca, headers }, resolve).on('error', reject),
  );
  assert.equal(watch.statusCode, 200);
  const watchEnded = new Promise<'clean' | 'cut'>((resolve) => {
    watch.on('end', () => resolve('clean'));
    watch.on('aborted', () => resolve('cut'));
    watch.on('error', () => resolve('cut'));
    watch.resume();
  });

  // A write whose body is still on its way when the controller is told to stop.
  const body = JSON.stringify({ metadata: { name: 'in-flight' }, data: { note: 'x'.repeat(2000) } });
  const post = https.request(base, {
    method: 'POST',
    ca: z.ca,
    headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const answered = new Promise<number>((resolve, reject) => {
    post.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    post.on('error', reject);
  });
  post.write(body.slice(0, 1000));
  await sleep(300);

  process.kill(z.controllerPid, 'SIGTERM');
  // The watch is told to reconnect: its response ends, as a server's watch timeout ends it.
  assert.equal(await watchEnded, 'clean');
  // Nothing new is taken: the listener is closed.
  await assert.rejects(
    new Promise((resolve, reject) =>
      https.get(`${z.url}/healthz`, { ca: z.ca, agent: false }, resolve).on('error', reject),
    ),
    { code: 'ECONNREFUSED' },
  );
  // The write in flight finishes.
  post.end(body.slice(1000));
  assert.equal(await answered, 201);

  await z.restartController();
  const res = await z.api<{ items: { verb: string; stage: string; status: number; reason?: string }[] }>(
    'GET',
    `/v1/audit/api?namespace=${ns}&limit=100`,
  );
  const records = res.body.items;
  assert.ok(
    records.some((r) => r.verb === 'create' && r.stage === 'ResponseComplete' && r.status === 201),
    JSON.stringify(records),
  );
  const watched = records.find((r) => r.verb === 'watch' && r.stage === 'ResponseComplete');
  assert.match(watched?.reason ?? '', /shutting down/);
});
