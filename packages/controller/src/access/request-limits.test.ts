import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZtkaError } from '@ztka/protocol';
import { RequestLimits, WINDOW_SECONDS } from './request-limits.js';

const refused = (err: unknown) =>
  err instanceof ZtkaError &&
  err.code === 'too_many_requests' &&
  err.retryAfterSeconds !== undefined &&
  err.retryAfterSeconds >= 1 &&
  err.retryAfterSeconds <= WINDOW_SECONDS;

test('a person gets their rate times the window, then a 429 that says when to retry', async () => {
  const limits = new RequestLimits({ perPerson: 2, perAddress: 0 });
  for (let i = 0; i < 2 * WINDOW_SECONDS; i++) await limits.person('u1');
  await assert.rejects(limits.person('u1'), refused);
  // Another person is counted apart.
  await limits.person('u2');
});

test('addresses are counted apart, and an IPv6 /64 is one address', async () => {
  const limits = new RequestLimits({ perPerson: 0, perAddress: 1 });
  for (let i = 0; i < WINDOW_SECONDS; i++) await limits.anonymous(`2001:db8::${i}`);
  await assert.rejects(limits.anonymous('2001:db8::ffff'), refused);
  await limits.anonymous('2001:db8:0:1::1');
  await limits.anonymous('10.0.0.1');
});

test('0 turns a limit off', async () => {
  const limits = new RequestLimits({ perPerson: 0, perAddress: 0 });
  for (let i = 0; i < 10_000; i++) {
    await limits.person('u1');
    await limits.anonymous('10.0.0.1');
  }
});
