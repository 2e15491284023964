import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_AUTHORIZATION_BYTES, MAX_COOKIE_BYTES } from '../auth/authenticate.js';
import { oversizedCredentialHeader } from './limits.js';

test('a Cookie or Authorization header over its limit is a 431 naming it; at the limit it is read', () => {
  assert.equal(oversizedCredentialHeader({ cookie: 'a'.repeat(MAX_COOKIE_BYTES) }), undefined);
  assert.equal(oversizedCredentialHeader({ authorization: 'a'.repeat(MAX_AUTHORIZATION_BYTES) }), undefined);
  const cookie = oversizedCredentialHeader({ cookie: 'a'.repeat(MAX_COOKIE_BYTES + 1) });
  assert.equal(cookie?.status, 431);
  assert.match(cookie?.message ?? '', /Cookie header is over 8192 bytes/);
  const auth = oversizedCredentialHeader({ authorization: `Bearer ${'a'.repeat(MAX_AUTHORIZATION_BYTES)}` });
  assert.equal(auth?.status, 431);
  assert.match(auth?.message ?? '', /Authorization header/);
  assert.equal(oversizedCredentialHeader({ 'x-other': 'a'.repeat(60_000) }), undefined);
});
