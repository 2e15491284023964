import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiRecord } from '../audit/record.js';
import { RefusalTally, type RefusalSample } from './refusals.js';

const anonymous = (address: string): RefusalSample => ({ address, user: null, status: 401 });

test('per sender and interval: the first refusal in full, the rest one summary with their count', async () => {
  const summaries: ApiRecord[] = [];
  let now = 1_000;
  const refusals = new RefusalTally(
    async (r) => void summaries.push(r),
    60_000,
    () => now,
  );
  assert.equal(refusals.admit('10.0.0.1', anonymous('10.0.0.1')), true);
  for (let i = 0; i < 999; i++) assert.equal(refusals.admit('10.0.0.1', anonymous('10.0.0.1')), false);
  assert.equal(refusals.admit('10.0.0.2', anonymous('10.0.0.2')), true);
  now = 2_000;
  assert.equal(refusals.admit('10.0.0.2', anonymous('10.0.0.2')), false);
  await refusals.flush();
  assert.deepEqual(
    summaries.map((s) => [s.sourceIPs[0], s.repeated, s.status, s.user, s.verb, s.at, s.endedAt]),
    [
      ['10.0.0.1', 999, 401, null, 'unauthenticated', 1_000, 1_000],
      ['10.0.0.2', 1, 401, null, 'unauthenticated', 1_000, 2_000],
    ],
  );
  // A new interval starts over, and a sender with nothing counted leaves no summary.
  assert.equal(refusals.admit('10.0.0.1', anonymous('10.0.0.1')), true);
  await refusals.close();
  assert.equal(summaries.length, 2);
});

test('a person over the rate limit is summarised by name, whichever address they used', async () => {
  const summaries: ApiRecord[] = [];
  const refusals = new RefusalTally(async (r) => void summaries.push(r));
  const sample = (address: string): RefusalSample => ({ address, user: 'demos@rafay.co', status: 429 });
  assert.equal(refusals.admit('user:u1', sample('10.0.0.1')), true);
  for (let i = 0; i < 50; i++) assert.equal(refusals.admit('user:u1', sample(`10.0.1.${i}`)), false);
  await refusals.close();
  assert.deepEqual(
    summaries.map((s) => [s.user, s.status, s.verb, s.repeated, s.cluster]),
    [['demos@rafay.co', 429, 'throttled', 50, '']],
  );
});

test('an attacker with many addresses fills the table, then is counted under one summary', async () => {
  const summaries: ApiRecord[] = [];
  const refusals = new RefusalTally(async (r) => void summaries.push(r));
  let full = 0;
  for (let i = 0; i < 20_000; i++) {
    const address = `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`;
    if (refusals.admit(address, anonymous(address))) full++;
  }
  assert.equal(full, 10_000);
  await refusals.close();
  assert.deepEqual(
    summaries.map((s) => [s.sourceIPs[0], s.repeated]),
    [['(other senders)', 10_000]],
  );
});
