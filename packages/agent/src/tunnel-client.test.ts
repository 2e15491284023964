import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from './tunnel-client.js';

test('backoff doubles from the initial delay, is capped, and jitters within the upper half', () => {
  assert.equal(
    backoffDelay(0, 500, 30_000, () => 0),
    250,
  );
  assert.equal(
    backoffDelay(0, 500, 30_000, () => 1),
    500,
  );
  assert.equal(
    backoffDelay(3, 500, 30_000, () => 1),
    4000,
  );
  assert.equal(
    backoffDelay(20, 500, 30_000, () => 1),
    30_000,
  );
  assert.equal(
    backoffDelay(1000, 500, 30_000, () => 0),
    15_000,
  );
});
