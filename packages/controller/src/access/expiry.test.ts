import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { atExpiry } from './expiry.js';

const DAY = 24 * 3600_000;

test('fires once the expiry has passed, not before, and never synchronously', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  let fired = 0;
  atExpiry(1_000_000 + 5000, () => fired++);
  t.mock.timers.tick(4999);
  assert.equal(fired, 0);
  t.mock.timers.tick(1);
  assert.equal(fired, 1);

  atExpiry(Date.now() - 1, () => fired++); // already past: still from the event loop, not from the call
  assert.equal(fired, 1);
  t.mock.timers.tick(0);
  assert.equal(fired, 2);
});

test('a credential valid for longer than setTimeout can wait expires on time', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const fn = mock.fn();
  atExpiry(90 * DAY, fn);
  t.mock.timers.tick(89 * DAY);
  assert.equal(fn.mock.callCount(), 0, 'fired early: the wait overflowed setTimeout');
  t.mock.timers.tick(DAY);
  assert.equal(fn.mock.callCount(), 1);
});

test('null never expires, and a cancelled one never fires', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const fn = mock.fn();
  atExpiry(null, fn)();
  const cancel = atExpiry(1000, fn);
  cancel();
  t.mock.timers.tick(10 * DAY);
  assert.equal(fn.mock.callCount(), 0);
});
