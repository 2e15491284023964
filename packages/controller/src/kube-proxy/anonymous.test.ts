import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiRecord } from '../audit/record.js';
import { AnonymousRefusals } from './anonymous.js';

test('per address and interval: the first refusal in full, the rest one summary with their count', async () => {
  const summaries: ApiRecord[] = [];
  let now = 1_000;
  const refusals = new AnonymousRefusals(
    async (r) => void summaries.push(r),
    60_000,
    () => now,
  );
  assert.equal(refusals.admit('10.0.0.1'), true);
  for (let i = 0; i < 999; i++) assert.equal(refusals.admit('10.0.0.1'), false);
  assert.equal(refusals.admit('10.0.0.2'), true);
  now = 2_000;
  assert.equal(refusals.admit('10.0.0.2'), false);
  await refusals.flush();
  assert.deepEqual(
    summaries.map((s) => [s.sourceIPs[0], s.repeated, s.status, s.user, s.at, s.endedAt]),
    [
      ['10.0.0.1', 999, 401, null, 1_000, 1_000],
      ['10.0.0.2', 1, 401, null, 1_000, 2_000],
    ],
  );
  // A new interval starts over, and an address with nothing counted leaves no summary.
  assert.equal(refusals.admit('10.0.0.1'), true);
  await refusals.close();
  assert.equal(summaries.length, 2);
});

test('an attacker with many addresses fills the table, then is counted under one summary', async () => {
  const summaries: ApiRecord[] = [];
  const refusals = new AnonymousRefusals(async (r) => void summaries.push(r));
  let full = 0;
  for (let i = 0; i < 20_000; i++) if (refusals.admit(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`)) full++;
  assert.equal(full, 10_000);
  await refusals.close();
  assert.deepEqual(
    summaries.map((s) => [s.sourceIPs[0], s.repeated]),
    [['(other addresses)', 10_000]],
  );
});
