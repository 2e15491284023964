import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execCredential, execInfoApiVersion, isFresh, tokenCachePath } from './exec-credential.js';

const at = (ms: number): string => new Date(ms).toISOString();
const NOW = Date.parse('2025-06-01T12:00:00Z');

test('a long-lived token is reused while more than 60 s remain', () => {
  const issuedAt = at(NOW - 14 * 60_000);
  assert.equal(isFresh({ issuedAt, expiresAt: at(NOW + 61_000) }, NOW), true);
  assert.equal(isFresh({ issuedAt, expiresAt: at(NOW + 60_000) }, NOW), false);
  assert.equal(isFresh({ issuedAt, expiresAt: at(NOW - 1_000) }, NOW), false);
});

test('a token living under 120 s is reused while more than a quarter of its life remains', () => {
  // Lifetime 100 s: the margin is 25 s, not 60 s.
  const fresh = (remaining: number): boolean =>
    isFresh({ issuedAt: at(NOW - (100_000 - remaining)), expiresAt: at(NOW + remaining) }, NOW);
  assert.equal(fresh(40_000), true);
  assert.equal(fresh(26_000), true);
  assert.equal(fresh(25_000), false);
  assert.equal(fresh(10_000), false);
  // Lifetime exactly 120 s is not short: the 60 s rule applies.
  assert.equal(isFresh({ issuedAt: at(NOW - 60_000), expiresAt: at(NOW + 60_000) }, NOW), false);
  assert.equal(isFresh({ issuedAt: at(NOW - 59_000), expiresAt: at(NOW + 61_000) }, NOW), true);
});

test('an entry with unreadable times is never fresh', () => {
  assert.equal(isFresh({ issuedAt: 'x', expiresAt: at(NOW + 3_600_000) }, NOW), false);
  assert.equal(isFresh({ issuedAt: at(NOW), expiresAt: 'soon' }, NOW), false);
});

test('the ExecCredential answers in the apiVersion kubectl asked for, v1 otherwise', () => {
  assert.equal(execInfoApiVersion(undefined), 'client.authentication.k8s.io/v1');
  assert.equal(execInfoApiVersion('{not json'), 'client.authentication.k8s.io/v1');
  assert.equal(
    execInfoApiVersion('{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential"}'),
    'client.authentication.k8s.io/v1beta1',
  );
  const cred = JSON.parse(
    execCredential('client.authentication.k8s.io/v1', 'tok', '2025-06-01T12:15:00.789Z'),
  );
  assert.deepEqual(cred, {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: 'tok', expirationTimestamp: '2025-06-01T12:15:00Z' },
  });
});

test('cache files differ per server and cluster and stay inside the cache directory', () => {
  const a = tokenCachePath('https://c1', 'prod', '/cache');
  assert.notEqual(a, tokenCachePath('https://c2', 'prod', '/cache'));
  assert.notEqual(a, tokenCachePath('https://c1', 'dev', '/cache'));
  assert.match(tokenCachePath('https://c1', '../../etc/passwd', '/cache'), /^\/cache\/[0-9a-f]{32}\.json$/);
});
