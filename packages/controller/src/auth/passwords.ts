// Password hashing with scrypt, a memory-hard KDF from Node's own crypto (no native add-on to build).
//
// Stored form: `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<hash b64url>`. The parameters travel with each hash so
// they can be raised later without invalidating existing passwords: `needsRehash` tells the login path when to
// store a stronger hash.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** N = 2^15, r = 8: 32 MiB and roughly 50–100 ms per hash on a server core (OWASP's scrypt baseline). */
const DEFAULT = { logN: 15, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Longer passwords are refused before hashing: scrypt's cost does not depend on length, but the body does. */
export const MAX_PASSWORD_LENGTH = 1024;
export const MIN_PASSWORD_LENGTH = 8;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  // Node refuses (by default) to use more than 32 MiB; allow what these parameters need, with headroom.
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r + (1 << 20) };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_BYTES, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function hashPassword(
  password: string,
  params: { logN: number; r: number; p: number } = DEFAULT,
) {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params.logN, params.r, params.p);
  return [
    'scrypt',
    params.logN,
    params.r,
    params.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

/** Whether `password` matches `stored`. False (never a throw) for a malformed or foreign stored value. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (
    ![logN, r, p].every(Number.isSafeInteger) ||
    logN < 10 ||
    logN > 20 ||
    r < 1 ||
    r > 32 ||
    p < 1 ||
    p > 16
  )
    return false;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length < 8 || expected.length !== KEY_BYTES) return false;
  const actual = await derive(password, salt, logN, r, p);
  return timingSafeEqual(actual, expected);
}

/** Whether a stored hash uses weaker parameters than today's and should be replaced at the next login. */
export function needsRehash(stored: string): boolean {
  const [, logN, r, p] = stored.split('$').map(Number);
  return logN !== DEFAULT.logN || r !== DEFAULT.r || p !== DEFAULT.p;
}

/** A dummy hash to verify against when the user does not exist, so timing does not reveal usernames. */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('hex'));
  return dummy;
}

/** A random password for a first admin: 24 characters of base64url, ~144 bits. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
