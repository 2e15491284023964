import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { BootstrapTokens } from '../clusters/bootstrap-tokens.js';
import { ClusterStore } from '../clusters/clusters.js';
import { orgWithProject } from '../store/contract.js';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import { HANDOVER_MS, TunnelLocations } from './locations.js';
import { REPLICA_STALE_MS, ReplicaDirectory } from './replicas.js';

const T0 = 1_700_000_000_000;
const log = pino({ level: 'silent' });

/** Two replicas on one database, on one clock the test moves. */
async function fixture(t: TestContext) {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  await migrateToLatest(db);
  const clock = { now: T0 };
  const now = () => clock.now;
  const clusters = new ClusterStore(db, new BootstrapTokens(db, { clock: now }), now);
  await orgWithProject(db, 'default', 'web', now);
  await clusters.create({ project: 'web', name: 'alpha' });
  const replica = async (id: string) => {
    const replicas = new ReplicaDirectory(db, id, log, () => clock.now);
    await replicas.register(`https://${id}.peer:9443`);
    return { replicas, locations: new TunnelLocations(db, replicas, () => clock.now) };
  };
  const connected = async () => (await clusters.get('alpha'))?.connected;
  return { db, clock, clusters, a: await replica('a'), b: await replica('b'), connected };
}

const tunnel = (sessionId: string) => ({ sessionId, jitNamespace: 'ztka-system' });

test('a claim makes the cluster connected and names its replica; only its own release undoes it', async (t) => {
  const { a, b, connected } = await fixture(t);
  assert.equal(await a.locations.find('alpha'), undefined);
  assert.equal(await a.locations.claim('alpha', tunnel('s1'), null), true);
  assert.equal(await connected(), true);
  assert.deepEqual(await b.locations.find('alpha'), {
    cluster: 'alpha',
    replicaId: 'a',
    sessionId: 's1',
    jitNamespace: 'ztka-system',
    peerUrl: 'https://a.peer:9443',
    live: true,
  });

  // B found s1 and judged it gone: B's tunnel takes the cluster.
  assert.equal(await b.locations.claim('alpha', tunnel('s2'), 's1'), true);
  // A's old tunnel closing late releases nothing of B's.
  await a.locations.release('alpha', 's1');
  assert.equal((await a.locations.find('alpha'))?.sessionId, 's2');
  assert.equal(await connected(), true);

  await b.locations.release('alpha', 's2');
  assert.equal(await a.locations.find('alpha'), undefined);
  assert.equal(await connected(), false);
});

test('two claims from the same finding: one wins', async (t) => {
  const { a, b } = await fixture(t);
  assert.equal(await a.locations.claim('alpha', tunnel('s1'), null), true);
  // Both found s1 gone; the second to write finds s2 there, not s1.
  assert.equal(await a.locations.claim('alpha', tunnel('s2'), 's1'), true);
  assert.equal(await b.locations.claim('alpha', tunnel('s3'), 's1'), false);
  // Both found nothing: the second insert loses.
  const { a: a2, b: b2 } = await fixture(t);
  assert.equal(await a2.locations.claim('alpha', tunnel('x'), null), true);
  assert.equal(await b2.locations.claim('alpha', tunnel('y'), null), false);
  assert.equal((await b2.locations.find('alpha'))?.replicaId, 'a');
});

test('an unknown cluster cannot be claimed', async (t) => {
  const { a } = await fixture(t);
  assert.equal(await a.locations.claim('nope', tunnel('s1'), null), false);
  await a.locations.release('nope', 's1');
});

test('the tunnels of a replica whose heartbeat stopped are swept, and the cluster shows disconnected', async (t) => {
  const { a, b, clock, connected } = await fixture(t);
  assert.equal(await a.locations.claim('alpha', tunnel('s1'), null), true);
  clock.now += REPLICA_STALE_MS - 1;
  await b.locations.sweep();
  assert.equal((await b.locations.find('alpha'))?.live, true, 'not yet stale');
  // B beats, A does not.
  clock.now += 2;
  await b.replicas.beat();
  assert.equal((await b.locations.find('alpha'))?.live, false, 'A is stale now');
  await b.locations.sweep();
  assert.equal(await b.locations.find('alpha'), undefined);
  assert.equal(await connected(), false);
  assert.deepEqual(
    (await b.replicas.live()).map((r) => r.id),
    ['b'],
  );
});

test('a replica that stops leaves the directory at once', async (t) => {
  const { a, b } = await fixture(t);
  assert.deepEqual((await b.replicas.live()).map((r) => r.id).sort(), ['a', 'b']);
  await a.replicas.stop();
  assert.deepEqual(
    (await b.replicas.live()).map((r) => r.id),
    ['b'],
  );
  assert.equal(await a.locations.claim('alpha', tunnel('s1'), null), true);
  assert.equal(
    (await b.locations.find('alpha'))?.live,
    false,
    'a location of a replica with no row is not live',
  );
});

test('a tunnel handed over by a stopping replica keeps its cluster connected until an agent claims it or the hand-over lapses', async (t) => {
  const { a, b, clock, connected } = await fixture(t);
  assert.equal(await a.locations.claim('alpha', tunnel('s1'), null), true);
  await a.locations.release('alpha', 's1', true);
  assert.equal(await connected(), true, 'handed over');
  assert.equal(await b.locations.reconnecting('alpha'), true);
  await b.locations.sweep();
  assert.equal(await connected(), true, 'not yet lapsed');
  // The agent arrives at B: nothing to replace.
  assert.equal(await b.locations.claim('alpha', tunnel('s2'), null), true);
  await b.locations.release('alpha', 's2', true);
  clock.now += HANDOVER_MS + 1;
  await b.replicas.beat();
  await b.locations.sweep();
  assert.equal(await connected(), false, 'no agent came');
  assert.equal(await b.locations.reconnecting('alpha'), false);
});

test('an agent that leaves is gone at once: not reconnecting', async (t) => {
  const { a, connected } = await fixture(t);
  assert.equal(await a.locations.claim('alpha', tunnel('s1'), null), true);
  await a.locations.release('alpha', 's1');
  assert.equal(await connected(), false);
  assert.equal(await a.locations.reconnecting('alpha'), false);
});

test('mine lists the tunnels the store gives this replica', async (t) => {
  const { a, b } = await fixture(t);
  assert.deepEqual([...(await a.locations.mine())], []);
  assert.equal(await a.locations.claim('alpha', tunnel('s1'), null), true);
  assert.deepEqual([...(await a.locations.mine())], [['alpha', 's1']]);
  assert.deepEqual([...(await b.locations.mine())], []);
});

test('a lone controller forgets what any other said it held, and its clusters show disconnected', async (t) => {
  const { a, b, connected } = await fixture(t);
  // A killed a moment ago: its heartbeat is still fresh, its row still there.
  assert.equal(await a.locations.claim('alpha', tunnel('s1'), null), true);
  await b.locations.forgetOthers();
  assert.equal(await b.locations.find('alpha'), undefined);
  assert.equal(await connected(), false);
  assert.equal(await b.locations.reconnecting('alpha'), false);
});
