// Security: one person's cancellations cannot cut the tunnel everyone's requests share. A request its client
// abandons must be cancelled on the agent's tunnel too (or a watch would run on in the cluster), and
// nghttp2 ends a server session that receives about a thousand stream resets in a burst (its defence
// against the HTTP/2 rapid-reset attack). Real controller, agent, apiserver; the per-person rate limit is
// off, as a person allowed a high rate would have it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import { testEnv, Ztka, type TestEnv } from '@ztka/testenv';

const CLUSTER = 'desktop';
let env: TestEnv;
let z: Ztka;

before(async () => {
  env = await testEnv();
  z = await Ztka.start({ env: { ZTKA_RATE_LIMIT_PER_PERSON: '0' } });
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
});
after(() => z?.stop());

/** Watches of `resource` in the apiserver now (scope namespace), by its own gauge. */
async function watchesOf(resource: string): Promise<number> {
  const metrics = await env.admin(['get', '--raw', '/metrics']);
  const line = metrics
    .split('\n')
    .find(
      (l) =>
        l.startsWith('apiserver_longrunning_requests{') &&
        l.includes(`resource="${resource}"`) &&
        l.includes('scope="namespace"') &&
        l.includes('verb="WATCH"'),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Opens a watch and resolves with its request once the answer's headers are in; `done` settles when it ends. */
function watch(token: string, agent: https.Agent, resource = 'configmaps') {
  let ended!: (why: string) => void;
  const done = new Promise<string>((resolve) => (ended = resolve));
  const opened = new Promise<ClientRequest>((resolve, reject) => {
    const req = https.get(
      `${z.url}/k8s/clusters/${CLUSTER}/api/v1/namespaces/default/${resource}?watch=true`,
      { ca: z.ca, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`watch: status ${res.statusCode}`));
        res.resume();
        res.on('end', () => ended('ended'));
        res.on('close', () => ended('closed'));
        resolve(req);
      },
    );
    req.on('error', (err) => {
      ended(err.message);
      reject(err);
    });
  });
  return { opened, done };
}

test("one person abandoning 1,500 watches in a burst does not cut another person's watch", async () => {
  const attacker = await z.createUser('canceller@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const bystander = await z.createUser('bystander@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const [attackerToken, bystanderToken] = await Promise.all([
    z.kubeToken(CLUSTER, attacker.apiKey),
    z.kubeToken(CLUSTER, bystander.apiKey),
  ]);
  const quiet = new https.Agent({ keepAlive: true });
  const kept = watch(bystanderToken, quiet);
  await kept.opened;
  let keptEnded: string | undefined;
  void kept.done.then((why) => (keptEnded = why));

  // Each watch is open through the tunnel when its client hangs up: the controller must cancel it there.
  // Limit ranges, which nothing else here watches: the apiserver's gauge of them is the attacker's alone.
  const before = await watchesOf('limitranges');
  const loud = new https.Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  let opened = 0;
  const failed: string[] = [];
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < 1500) {
        next++;
        try {
          const req = await watch(attackerToken, loud, 'limitranges').opened;
          opened++;
          req.destroy();
        } catch (err) {
          failed.push(err instanceof Error ? err.message : String(err));
        }
      }
    }),
  );
  // A cut tunnel answers everyone 502 until the agent is back: the attacker's own watches show it first.
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of the watches failed`);
  assert.equal(opened, 1500);
  // Every abandoned watch ended in the cluster too, well before a reset after the grace would have ended it.
  let left = Infinity;
  for (let i = 0; i < 20 && left > before; i++) {
    left = await watchesOf('limitranges');
    if (left > before) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(left <= before, `${left - before} abandoned watches still open in the apiserver`);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assert.equal(keptEnded, undefined, "the bystander's watch was cut");

  // And the tunnel still serves.
  const res = await new Promise<number>((resolve, reject) =>
    https
      .get(
        `${z.url}/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`,
        { ca: z.ca, agent: quiet, headers: { authorization: `Bearer ${bystanderToken}` } },
        (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        },
      )
      .on('error', reject),
  );
  assert.equal(res, 200);
  quiet.destroy();
  loud.destroy();
});
