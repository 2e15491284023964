import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import { SecretBox } from '../store/sealed.js';
import { TotpStore, totpCode, totpStep, totpUri } from './totp.js';

// RFC 6238 appendix B, SHA-1 (seed "12345678901234567890"): the 8-digit codes there end in these 6 digits.
const RFC_SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: [seconds: number, code: string][] = [
  [59, '287082'],
  [1111111109, '081804'],
  [1111111111, '050471'],
  [1234567890, '005924'],
  [2000000000, '279037'],
  [20000000000, '353130'],
];

test('codes match the RFC 6238 SHA-1 test vectors', () => {
  for (const [seconds, code] of RFC_VECTORS) {
    assert.equal(totpCode(RFC_SEED, seconds * 1000), code, `T=${seconds}`);
    assert.equal(totpStep(RFC_SEED, code, seconds * 1000), Math.floor(seconds / 30));
  }
});

test('a code is accepted one step either side of now, and no further', () => {
  const at = 1111111111_000;
  const step = Math.floor(at / 30_000);
  for (const offset of [-1, 0, 1])
    assert.equal(totpStep(RFC_SEED, totpCode(RFC_SEED, at + offset * 30_000), at), step + offset);
  for (const offset of [-2, 2, 10])
    assert.equal(totpStep(RFC_SEED, totpCode(RFC_SEED, at + offset * 30_000), at), undefined);
  for (const junk of ['', '12345', '1234567', 'abcdef'])
    assert.equal(totpStep(RFC_SEED, junk, at), undefined);
});

test('the otpauth URI names ztka and the user, with what authenticator apps assume', () => {
  const uri = new URL(totpUri(RFC_SEED, 'alice@example.com'));
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(decodeURIComponent(uri.pathname), '/ztka:alice@example.com');
  assert.equal(uri.searchParams.get('issuer'), 'ztka');
  assert.equal(uri.searchParams.get('secret'), RFC_SEED);
  assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
  assert.equal(uri.searchParams.get('digits'), '6');
  assert.equal(uri.searchParams.get('period'), '30');
});

async function setup() {
  let now = Date.UTC(2026, 10, 28, 12, 0, 10);
  const db = openSqlite(':memory:');
  await migrateToLatest(db);
  await db.insertInto('orgs').values({ id: 'o1', name: 'default', created_at: now }).execute();
  await db
    .insertInto('users')
    .values({
      id: 'u1',
      org_id: 'o1',
      username: 'alice',
      password_hash: 'x',
      disabled_at: null,
      created_at: now,
    })
    .execute();
  const box = SecretBox.generate();
  const store = new TotpStore(db, box, () => now);
  return { db, box, store, now: () => now, advance: (ms: number) => (now += ms) };
}

test('enrolment is pending until a valid code confirms it, and a new one replaces a pending one', async (t) => {
  const { db, store, now } = await setup();
  t.after(() => db.destroy());
  assert.equal(await store.state('u1'), 'off');
  const first = await store.begin('u1', 'alice');
  assert.equal(await store.state('u1'), 'pending');
  // Not on yet: a code does not pass a login check.
  assert.deepEqual(await store.check('u1', totpCode(first.secret, now())), {
    ok: false,
    reason: 'wrong code',
  });
  const second = await store.begin('u1', 'alice');
  assert.notEqual(second.secret, first.secret);
  assert.deepEqual(await store.confirm('u1', totpCode(first.secret, now())), {
    ok: false,
    reason: 'wrong code',
  });
  assert.deepEqual(await store.confirm('u1', totpCode(second.secret, now())), { ok: true });
  assert.equal(await store.state('u1'), 'on');
  await assert.rejects(store.begin('u1', 'alice'), { code: 'conflict' });
  assert.equal(await store.remove('u1'), true);
  assert.equal(await store.state('u1'), 'off');
  assert.equal(await store.remove('u1'), false);
});

test('the seed is stored sealed to its user, never in clear', async (t) => {
  const { db, box, store } = await setup();
  t.after(() => db.destroy());
  const { secret } = await store.begin('u1', 'alice');
  const row = await db.selectFrom('user_totp').select('secret').executeTakeFirstOrThrow();
  assert.ok(!row.secret.includes(secret));
  assert.equal(box.open(row.secret, 'totp:u1'), secret);
  assert.throws(() => box.open(row.secret, 'totp:u2'));
});

test('a code is used once: the same code, or one of an older step, is refused as a replay', async (t) => {
  const { db, store, now, advance } = await setup();
  t.after(() => db.destroy());
  const { secret } = await store.begin('u1', 'alice');
  const confirming = totpCode(secret, now());
  assert.deepEqual(await store.confirm('u1', confirming), { ok: true });
  // The code that confirmed the enrolment does not log in.
  assert.deepEqual(await store.check('u1', confirming), { ok: false, reason: 'replayed code' });
  advance(30_000);
  const next = totpCode(secret, now());
  const [a, b] = await Promise.all([store.check('u1', next), store.check('u1', next)]);
  assert.deepEqual([a, b].filter((r) => r.ok).length, 1, 'two requests with one code: one wins');
  assert.deepEqual(await store.check('u1', next), { ok: false, reason: 'replayed code' });
  // Still inside the window, but older than the step already used.
  assert.deepEqual(await store.check('u1', totpCode(secret, now() - 30_000)), {
    ok: false,
    reason: 'replayed code',
  });
  assert.deepEqual(await store.check('u1', totpCode(secret, now() + 30_000)), { ok: true });
  assert.deepEqual(
    await store.check(
      'u1',
      '000000'.replace(/0/g, (d) => d),
    ),
    {
      ok: false,
      reason: 'wrong code',
    },
  );
});
