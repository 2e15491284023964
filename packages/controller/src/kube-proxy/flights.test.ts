import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DRAINING_REASON, Flights } from './flights.js';

test('a drain ends long-running requests at once and waits for short ones', async () => {
  const flights = new Flights();
  const stopped: string[] = [];
  // Like the proxy's own: a stopped watch ends, and says so, a moment later.
  const watchDone = flights.add({
    longRunning: true,
    stop: (why) => {
      stopped.push(`watch: ${why}`);
      setTimeout(watchDone, 10);
    },
  });
  const shortDone = flights.add({ longRunning: false, stop: (why) => stopped.push(`get: ${why}`) });
  setTimeout(shortDone, 100);
  const started = Date.now();
  const drained = flights.drain(5000);
  assert.equal(flights.draining, true);
  assert.deepEqual(stopped, [`watch: ${DRAINING_REASON}`]);
  await drained;
  assert.ok(Date.now() - started < 4000, 'the drain waited for the requests, not for its grace');
  assert.deepEqual(stopped, [`watch: ${DRAINING_REASON}`], 'the short request finished on its own');
});

test('what outlives the grace is ended; a long-running request that starts during a drain ends at once', async () => {
  const flights = new Flights();
  const stopped: string[] = [];
  flights.add({ longRunning: false, stop: (why) => stopped.push(why) });
  await flights.drain(50);
  assert.deepEqual(stopped, ['the controller shut down before this request finished']);
  flights.add({ longRunning: true, stop: (why) => stopped.push(why) });
  assert.equal(stopped.at(-1), DRAINING_REASON);
});
