// The provider's secrets, kept in the state directory so that a restarted provider still verifies the
// tokens and reads the cookies it issued before.
import { generateKeyPair, randomBytes, type JsonWebKey } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeJsonAtomic } from './config.js';

export interface SigningJwk extends JsonWebKey {
  kid: string;
  alg: 'RS256';
  use: 'sig';
}

export interface ProviderKeys {
  cookieKeys: string[];
  /** Private keys, the one that signs first; the others are still published for verification. */
  jwks: { keys: SigningJwk[] };
}

export const KEYS_FILE = 'keys.json';

async function newSigningKey(): Promise<SigningJwk> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const kid = `${new Date().toISOString().slice(0, 19).replace(/[-:]/g, '')}-${randomBytes(4).toString('hex')}`;
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

export async function loadOrCreateKeys(stateDir: string): Promise<ProviderKeys> {
  const file = path.join(stateDir, KEYS_FILE);
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as ProviderKeys;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const keys: ProviderKeys = {
    cookieKeys: [randomBytes(32).toString('base64url')],
    jwks: { keys: [await newSigningKey()] },
  };
  await writeJsonAtomic(file, keys);
  return keys;
}

/** Puts a new signing key in front of the others, which stay published so earlier tokens still verify. */
export async function rotateSigningKey(stateDir: string): Promise<ProviderKeys> {
  const current = await loadOrCreateKeys(stateDir);
  const keys: ProviderKeys = { ...current, jwks: { keys: [await newSigningKey(), ...current.jwks.keys] } };
  await writeJsonAtomic(path.join(stateDir, KEYS_FILE), keys);
  return keys;
}
