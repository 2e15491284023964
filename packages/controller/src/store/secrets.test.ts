import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashSecret, newSecret, parseToken, verifySecret } from './secrets.js';

test('newSecret builds <prefix>_<id>.<secret> with 32 random bytes of secret', () => {
  const s = newSecret('ztkb');
  assert.equal(s.token, `ztkb_${s.id}.${s.secret}`);
  assert.match(s.id, /^[A-Za-z0-9_-]{12}$/);
  assert.match(s.secret, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(s.secret, 'base64url').length, 32);
  const other = newSecret('ztkb');
  assert.notEqual(other.id, s.id);
  assert.notEqual(other.secret, s.secret);
});

test('newSecret rejects prefixes that would make tokens ambiguous', () => {
  for (const prefix of ['', 'Ztk', 'z_k', 'z.k', '1abc', 'a'.repeat(17)]) {
    assert.throws(() => newSecret(prefix), /invalid token prefix/, prefix);
  }
});

test('parseToken round-trips tokens from newSecret, including ids containing _ and -', () => {
  for (let i = 0; i < 200; i++) {
    const s = newSecret('ztka');
    assert.deepEqual(parseToken(s.token, 'ztka'), { id: s.id, secret: s.secret });
  }
});

test('hashSecret is SHA-256 hex and verifySecret accepts only the matching secret', () => {
  const s = newSecret('ztka');
  const hash = hashSecret(s.secret);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(hashSecret('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(verifySecret(s.secret, hash), true);
  assert.equal(verifySecret(newSecret('ztka').secret, hash), false);
  assert.equal(verifySecret(`${s.secret}x`, hash), false);
  assert.equal(verifySecret('', hash), false);
  // Malformed stored hashes never verify (and never throw on a length mismatch).
  assert.equal(verifySecret(s.secret, ''), false);
  assert.equal(verifySecret(s.secret, hash.slice(2)), false);
  assert.equal(verifySecret(s.secret, hash.toUpperCase()), false);
  assert.equal(verifySecret(s.secret, `${hash}00`), false);
});

test('parseToken returns undefined, without throwing, for malformed or hostile input', () => {
  const s = newSecret('ztkb');
  const valid = s.token;
  const cases: unknown[] = [
    '',
    'ztkb',
    'ztkb_',
    `ztkb_${s.id}${s.secret}x`, // no dot, right length
    `ztkb_${s.id}${s.secret}`, // no dot
    `ztka_${s.id}.${s.secret}`, // wrong prefix
    `ZTKB_${s.id}.${s.secret}`,
    `ztkb-${s.id}.${s.secret}`,
    `ztkbx${s.id}.${s.secret}`,
    ` ${valid}`,
    `${valid} `,
    `${valid}\n`,
    valid.slice(0, -1),
    `${valid}A`,
    `ztkb_${s.id}.${s.secret.slice(0, -1)}=`, // padding
    `ztkb_${s.id}.${s.secret.slice(0, -1)}+`, // base64, not base64url
    `ztkb_${s.id.slice(0, -1)}é.${s.secret}`, // unicode in id
    `ztkb_${s.id}.${s.secret.slice(0, -2)}🔑`, // astral unicode (two UTF-16 units)
    `ztkb_${s.id}.${s.secret.slice(0, -1)}\u0000`,
    `ztkb_${'.'.repeat(12)}.${s.secret}`,
    `${valid}.${valid}`,
    'x'.repeat(10_000_000),
    `${valid}${'A'.repeat(1_000_000)}`,
    undefined,
    null,
    42,
    {},
    [valid],
    { toString: () => valid },
  ];
  for (const input of cases) {
    assert.equal(parseToken(input, 'ztkb'), undefined, `accepted ${String(input).slice(0, 60)}`);
  }
  // A bogus prefix argument is not an error either.
  assert.equal(parseToken(valid, ''), undefined);
  assert.equal(parseToken(valid, 'ZTKB'), undefined);
});
