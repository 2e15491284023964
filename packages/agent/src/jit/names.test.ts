// The account-name mapping is injective on every string and never lands on a reserved name. Proved in two
// halves, each checked on random and adversarial usernames: a readable name decodes back to exactly its
// username, and every other name is `<hint>--<160-bit hash of the username>`, a shape no readable name has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { AGENT_NAME, DNS_LABEL_PATTERN, isDnsLabel } from '@ztka/protocol';
import { HASH_MARKER, isReservedName, serviceAccountName, usernameHash } from './names.js';

const RUNS = { numRuns: 3000 };

/** The inverse of the readable form: undefined for a name that is not one. */
function decodeReadable(name: string): string | undefined {
  if (name.includes(HASH_MARKER)) return undefined;
  let out = '';
  for (let i = 0; i < name.length;) {
    const ch = name[i] ?? '';
    if (ch !== '-') {
      out += ch;
      i++;
      continue;
    }
    const two = Number(name.slice(i + 1, i + 3));
    const width = two >= 32 && two <= 99 ? 2 : two >= 10 && two <= 12 ? 3 : 0;
    const code = Number(name.slice(i + 1, i + 1 + width));
    if (width === 0 || !(code >= 32 && code <= 126) || /[a-z0-9]/.test(String.fromCharCode(code)))
      return undefined;
    out += String.fromCharCode(code);
    i += 1 + width;
  }
  return out;
}

/** An independent base32 (RFC 4648, lowercase) of SHA-256's first 160 bits, through BigInt. */
function expectedHash(username: string): string {
  const hex = createHash('sha256').update(Buffer.from(username, 'utf16le')).digest('hex').slice(0, 40);
  return BigInt(`0x${hex}`)
    .toString(32)
    .padStart(32, '0')
    .replace(/./g, (d) => 'abcdefghijklmnopqrstuvwxyz234567'[parseInt(d, 32)] ?? '?');
}

/** The mapping before this one, whose cut-and-hash names other usernames could reproduce exactly. */
function legacyName(username: string): string {
  let encoded = '';
  for (const ch of username.toLowerCase()) encoded += /[a-z0-9]/.test(ch) ? ch : `-${ch.codePointAt(0)}`;
  if (encoded.startsWith('-')) encoded = `u${encoded}`;
  if (encoded.length > 0 && encoded.length <= 63 && !/[^\x20-\x7e]/.test(username.toLowerCase()))
    return encoded;
  const hash = createHash('sha256').update(username, 'utf8').digest('hex').slice(0, 10);
  return `${encoded.slice(0, 52).replace(/-+$/, '') || 'u'}-${hash}`;
}

/** Usernames an attacker would try against `victim`: its names, fed back as usernames, and case twins. */
function lookalikes(victim: string): string[] {
  const names = [serviceAccountName(victim), legacyName(victim)];
  const decoded = names.map(decodeReadable).filter((u): u is string => u !== undefined);
  return [
    ...names,
    ...decoded,
    ...names.map((n) => n.replace(HASH_MARKER, '-')),
    victim.toUpperCase(),
    victim.toLowerCase(),
    `${victim}\u0000`,
    victim.normalize('NFD'),
    victim.normalize('NFKC'),
  ].filter((u) => u !== victim);
}

const ascii = fc.string({ unit: fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)) });
const allowedByController = fc.stringMatching(/^[a-z0-9][a-z0-9._%+@-]{0,253}$/);
const nearTheLimit = fc
  .tuple(fc.stringMatching(/^[a-z0-9]{1,70}$/), fc.stringMatching(/^[._@+%-][a-z0-9]{0,3}$/))
  .map(([a, b]) => a + b);
const codeUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
const usernames = fc.oneof(
  allowedByController,
  nearTheLimit,
  ascii,
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  codeUnits,
  fc.constantFrom('default', AGENT_NAME, 'system:admin', 'kube-admin', 'ztka', '', '-', '.', '--'),
);

test('the seed example and plain names keep their readable form', () => {
  assert.equal(serviceAccountName('demos@rafay.co'), 'demos-64rafay-46co');
  assert.equal(serviceAccountName('admin'), 'admin');
  assert.equal(serviceAccountName('a-b'), 'a-45b');
  assert.equal(serviceAccountName('x+y_z'), 'x-43y-95z');
  assert.equal(serviceAccountName('first.last@example.com'), 'first-46last-64example-46com');
});

test('the usernames of the review, one crafted to take the other’s account, get accounts of their own', () => {
  const victim = 'firstname.lastname@platform-engineering188.example.com';
  const crafted = 'firstname.lastname@platform-engineering188.e_464595e3';
  assert.equal(legacyName(victim), legacyName(crafted), 'the premise: they shared an account before');
  assert.notEqual(serviceAccountName(victim), serviceAccountName(crafted));
  assert.equal(serviceAccountName(victim), `firstname-46lastname-64platf--${usernameHash(victim)}`);
  // The crafted one fits, so it keeps its readable form, which decodes to it and nobody else.
  assert.equal(
    serviceAccountName(crafted),
    'firstname-46lastname-64platform-45engineering188-46e-95464595e3',
  );
});

test('a reserved name is never given to a person', () => {
  for (const username of ['default', AGENT_NAME, 'system', 'system:admin', 'kube-admin', 'ztka', 'Default']) {
    const name = serviceAccountName(username);
    assert.ok(!isReservedName(name), `${username} → ${name}`);
    assert.notEqual(name, 'default');
  }
  assert.match(serviceAccountName('default'), /^default--[a-z2-7]{32}$/);
  assert.match(serviceAccountName('ztka.agent'), /^uztka-46agent--[a-z2-7]{32}$/);
});

test('case is not folded: usernames that differ in case get different accounts', () => {
  assert.notEqual(serviceAccountName('Demos@Rafay.co'), serviceAccountName('demos@rafay.co'));
  // The Kelvin sign lowercases to an ASCII 'k'; it is no alias of one.
  assert.notEqual(serviceAccountName('\u212aadmin'), serviceAccountName('kadmin'));
});

test('property: every name is a DNS-1123 label, not reserved, readable or marked and hashed', () => {
  fc.assert(
    fc.property(usernames, (username) => {
      const name = serviceAccountName(username);
      assert.match(name, new RegExp(DNS_LABEL_PATTERN));
      assert.ok(!isReservedName(name), name);
      const decoded = decodeReadable(name);
      if (decoded !== undefined) assert.equal(decoded, username);
      else {
        assert.ok(name.endsWith(`${HASH_MARKER}${expectedHash(username)}`), `${username} → ${name}`);
        assert.equal(name.indexOf(HASH_MARKER), name.length - 34, 'one marker, right before the hash');
      }
    }),
    RUNS,
  );
});

test('property: the readable form is taken whenever it fits and is not reserved', () => {
  fc.assert(
    fc.property(fc.oneof(allowedByController, ascii), (username) => {
      const readable = [...username].map((c) => (/[a-z0-9]/.test(c) ? c : `-${c.charCodeAt(0)}`)).join('');
      const fits = isDnsLabel(readable) && !isReservedName(readable);
      assert.equal(serviceAccountName(username) === readable, fits, `${username} → ${readable}`);
    }),
    RUNS,
  );
});

test('property: no two usernames share a name, crafted lookalikes included', () => {
  fc.assert(
    fc.property(usernames, (victim) => {
      const name = serviceAccountName(victim);
      for (const other of lookalikes(victim))
        assert.notEqual(
          serviceAccountName(other),
          name,
          `${JSON.stringify(victim)} vs ${JSON.stringify(other)}`,
        );
    }),
    RUNS,
  );
  fc.assert(
    fc.property(fc.uniqueArray(usernames, { minLength: 2, maxLength: 200 }), (many) => {
      assert.equal(new Set(many.map(serviceAccountName)).size, many.length);
    }),
    { numRuns: 300 },
  );
});

test('lone surrogates are told apart (UTF-8 would write both as U+FFFD)', () => {
  assert.notEqual(serviceAccountName('a\ud800'), serviceAccountName('a\ud801'));
  assert.notEqual(serviceAccountName('a\ud800'), serviceAccountName('a\ufffd'));
});
