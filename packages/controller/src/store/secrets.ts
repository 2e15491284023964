// Bearer tokens: bootstrap tokens and agent credentials.
//
// A token reads `<prefix>_<id>.<secret>`: the prefix names its kind (and lets secret scanners recognise it),
// the id is a short random lookup key stored in clear, and the secret is 32 random bytes in base64url of which
// only the SHA-256 digest is stored.
//
// Why SHA-256 and not a slow KDF (scrypt, argon2): slow hashing exists to make guessing low-entropy passwords
// expensive. These secrets are 256 bits from the CSPRNG, so a leaked digest cannot be brute-forced at any
// hashing speed, and a fast hash keeps authenticating every agent connection cheap.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ID_BYTES = 9; // 72 bits: collisions are negligible and the id never authenticates anything on its own.
const SECRET_BYTES = 32;
const ID_LENGTH = Math.ceil((ID_BYTES * 4) / 3); // unpadded base64url: 12
const SECRET_LENGTH = Math.ceil((SECRET_BYTES * 4) / 3); // 43
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const PREFIX = /^[a-z][a-z0-9]{0,15}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface NewSecret {
  /** Lookup id, stored in clear. */
  id: string;
  /** The secret part; store only `hashSecret(secret)`. */
  secret: string;
  /** The complete token handed to its holder: `<prefix>_<id>.<secret>`. */
  token: string;
}

function checkPrefix(prefix: string): void {
  if (!PREFIX.test(prefix)) throw new Error(`invalid token prefix ${JSON.stringify(prefix)}`);
}

/** Creates a new random token with the given prefix (lowercase letters and digits, starting with a letter). */
export function newSecret(prefix: string): NewSecret {
  checkPrefix(prefix);
  const id = randomBytes(ID_BYTES).toString('base64url');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { id, secret, token: `${prefix}_${id}.${secret}` };
}

/** SHA-256 of the secret, as lowercase hex. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Whether `secret` hashes to `expectedHash`, compared in constant time. False for a malformed hash. */
export function verifySecret(secret: string, expectedHash: string): boolean {
  if (!SHA256_HEX.test(expectedHash)) return false;
  const actual = createHash('sha256').update(secret, 'utf8').digest();
  return timingSafeEqual(actual, Buffer.from(expectedHash, 'hex'));
}

/**
 * Splits a token into its id and secret, or returns undefined if it is not a well-formed token with this
 * prefix. Never throws, whatever `token` is: the length is checked before any other work, so hostile input
 * costs nothing.
 */
export function parseToken(token: unknown, prefix: string): { id: string; secret: string } | undefined {
  if (typeof token !== 'string' || !PREFIX.test(prefix)) return undefined;
  if (token.length !== prefix.length + 1 + ID_LENGTH + 1 + SECRET_LENGTH) return undefined;
  if (!token.startsWith(`${prefix}_`)) return undefined;
  const rest = token.slice(prefix.length + 1);
  if (rest[ID_LENGTH] !== '.') return undefined;
  const id = rest.slice(0, ID_LENGTH);
  const secret = rest.slice(ID_LENGTH + 1);
  if (!BASE64URL.test(id) || !BASE64URL.test(secret)) return undefined;
  return { id, secret };
}
