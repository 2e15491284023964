import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSpan, parseDuration } from './duration.js';

// The grammar itself is @ztka/protocol's (duration.test.ts there); here, what the CLI adds to it.

test('durations read as seconds', () => {
  assert.equal(parseDuration(' 1h30m '), 5_400);
  assert.equal(parseDuration('0'), 0);
});

test('malformed durations are rejected with the accepted forms', () => {
  for (const bad of ['5x', '', ' ', '30m1h', '8H', '99999999999999999999d']) {
    assert.throws(
      () => parseDuration(bad),
      /invalid duration .*30s, 15m, 8h, 30d/,
      `accepted ${JSON.stringify(bad)}`,
    );
  }
});

test('spans show their largest unit', () => {
  assert.equal(formatSpan(45), '45s');
  assert.equal(formatSpan(3_700), '1h');
  assert.equal(formatSpan(-90_000), '1d');
  assert.equal(formatSpan(0.4), '0s');
});
