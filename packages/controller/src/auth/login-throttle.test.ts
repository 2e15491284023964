// The login throttle on a simulated clock: brute force stays slow per account and per address, while
// nobody without the password can keep the owner out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LOGIN_LIMITS, LoginThrottle, addressKey, type LoginAdmission } from './login-throttle.js';

const L = LOGIN_LIMITS;
const OWNER = '192.0.2.10';

function setup(limits = L) {
  let now = Date.UTC(2026, 0, 1);
  const throttle = new LoginThrottle(limits, () => now);
  return {
    throttle,
    advance: (ms: number) => (now += ms),
    /** One attempt that, if admitted, fails (its admission is never told otherwise). */
    guess: (username: string, address: string): LoginAdmission => throttle.admit(username, address),
  };
}

/**
 * Attackers that each try once every `everyMs` for `durationMs`, every admitted attempt a wrong guess;
 * returns how many were admitted (got a real check). With `owner`, the owner tries too after every round,
 * from their own address and with the right password, and must be checked every time.
 */
function hammer(
  t: ReturnType<typeof setup>,
  username: string,
  addresses: string[],
  durationMs: number,
  everyMs = 100,
  owner?: string,
): number {
  let checked = 0;
  for (let elapsed = 0; elapsed < durationMs; elapsed += everyMs) {
    for (const address of addresses) if (t.guess(username, address).admitted) checked++;
    if (owner !== undefined) {
      const mine = t.throttle.admit(username, owner);
      assert.ok(mine.admitted, `the owner was held ${elapsed} ms into the attack`);
      mine.succeeded();
    }
    t.advance(everyMs);
  }
  return checked;
}

const addresses = (n: number, prefix = '198.51') =>
  Array.from({ length: n }, (_, i) => `${prefix}.${Math.floor(i / 250)}.${(i % 250) + 1}`);

/** The most checks the account's backoff lets through in `ms` for addresses that have failed there. */
function accountSlots(ms: number): number {
  let slots = 0;
  for (let at = 0, wait = L.backoffMs; at <= ms; at += wait, wait = Math.min(wait * 2, L.accountMaxBackoffMs))
    slots++;
  return slots;
}

describe('against one account', () => {
  test('the owner gets in at once from their own address while one address hammers it', () => {
    const t = setup();
    const checked = hammer(t, 'alice', ['203.0.113.7'], 60_000, 100, OWNER);
    // One address on one account: a few free guesses, then its own backoff (1 s, 2 s, 4 s, …).
    assert.ok(checked <= L.freeFailures + 6, `${checked} guesses in a minute from one address`);
  });

  test('the owner gets in at once while 250 addresses hammer it, and the guesses stay bounded', () => {
    const t = setup();
    const attackers = addresses(250);
    const minute = 60_000;
    const checked = hammer(t, 'alice', attackers, minute, 500, OWNER);
    // Each address's first guess at the account is checked (it has not failed there yet); after that they
    // share the account's backoff: one check per few seconds, whoever asks.
    assert.ok(
      checked <= attackers.length + L.freeFailures + accountSlots(minute),
      `${checked} guesses in a minute from ${attackers.length} addresses`,
    );
    // The next hour: the first guesses are spent, and the rate is the account's backoff alone.
    const hour = 3600_000;
    const later = hammer(t, 'alice', attackers, hour, 2000, OWNER);
    assert.ok(later <= hour / L.accountMaxBackoffMs + 10, `${later} guesses in the next hour`);
  });

  test('an address that failed waits at most the cap after an attack ends, and refusals do not lengthen it', () => {
    const t = setup();
    const mistyped = '192.0.2.99';
    assert.ok(t.guess('bob', mistyped).admitted); // the owner mistypes once
    hammer(t, 'bob', addresses(50), 10 * 60_000, 1000);
    const refused = t.throttle.admit('bob', mistyped);
    assert.ok(!refused.admitted);
    assert.ok(refused.retryAfterMs <= L.accountMaxBackoffMs, `told to wait ${refused.retryAfterMs} ms`);
    // Asking again and again while held changes nothing.
    for (let i = 0; i < 100; i++) assert.ok(!t.throttle.admit('bob', mistyped).admitted);
    t.advance(refused.retryAfterMs);
    const owner = t.throttle.admit('bob', mistyped);
    assert.ok(owner.admitted, 'checked once the wait has passed');
    owner.succeeded();
    assert.ok(t.throttle.admit('bob', mistyped).admitted, 'a success clears their own mistakes');
  });

  test('attempts in flight together count at once: a burst gets only the free guesses', () => {
    const t = setup();
    assert.ok(t.guess('carol', '203.0.113.8').admitted); // this address has failed for carol
    const burst = Array.from({ length: 100 }, () => t.throttle.admit('carol', '203.0.113.8'));
    // The two free guesses left, and one backoff slot.
    assert.equal(burst.filter((a) => a.admitted).length, L.freeFailures - 1 + 1);
  });

  test('a success gives back what its admission took', () => {
    const t = setup();
    for (let i = 0; i < 50; i++) {
      const a = t.throttle.admit('dave', OWNER);
      assert.ok(a.admitted, `login ${i}`);
      a.succeeded();
    }
  });
});

describe('from one address', () => {
  test('guesses across many accounts are bounded by the address bucket, and answered 429 with a wait', () => {
    const t = setup();
    let checked = 0;
    let last: LoginAdmission | undefined;
    for (let i = 0; i < 1000; i++) {
      last = t.throttle.admit(`user-${i}`, '203.0.113.9');
      if (last.admitted) checked++;
    }
    assert.equal(checked, L.addressBurst);
    assert.ok(last && !last.admitted);
    assert.ok(last.retryAfterMs > 0 && last.retryAfterMs <= L.addressRefillMs);
    // Then one more per refill period.
    const hour = 3600_000;
    let later = 0;
    for (let ms = 0; ms < hour; ms += 1000) {
      if (t.throttle.admit(`later-${ms}`, '203.0.113.9').admitted) later++;
      t.advance(1000);
    }
    assert.ok(Math.abs(later - hour / L.addressRefillMs) <= 1, `${later} in an hour`);
    // Other addresses are not held by it.
    assert.ok(t.throttle.admit('user-1', '203.0.113.10').admitted);
  });

  test('IPv6 addresses are limited by their /64, IPv4-mapped ones as IPv4', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
    assert.equal(addressKey('::ffff:127.0.0.5'), '127.0.0.5');
    const t = setup();
    for (let i = 0; i < L.addressBurst; i++) t.throttle.admit(`u${i}`, `2001:db8::${i.toString(16)}`);
    assert.ok(!t.throttle.admit('another', '2001:db8::ffff').admitted);
  });
});

test('a full table drops the least recently used entries, not the ones an attack keeps using', () => {
  const t = setup({ ...L, maxEntries: 100 });
  const attacker = '203.0.113.11';
  hammer(t, 'erin', [attacker], 30_000, 1000);
  for (let i = 0; i < 1000; i++) {
    t.throttle.admit(`filler-${i}`, `198.18.${Math.floor(i / 250)}.${i % 250}`);
    // The attacker keeps its own entries fresh while it floods the table.
    if (i % 10 === 0) t.throttle.admit('erin', attacker);
  }
  assert.ok(!t.throttle.admit('erin', attacker).admitted, 'still held');
});
