// The audit key: an Ed25519 key kept in a file of its own, never in the database, that signs checkpoints of
// the chain. Whoever can write the database but not this file can rewrite records and recompute every hash,
// but cannot sign a checkpoint that agrees with the rewrite.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AuditCheckpoint } from '@ztka/protocol';

export type UnsignedCheckpoint = Omit<AuditCheckpoint, 'keyId' | 'signature'>;

/** The bytes a signature covers: every field, in a fixed order, under a label of its own. */
function payload(c: UnsignedCheckpoint & { keyId: string }): Buffer {
  return Buffer.from(
    ['ztka-audit-checkpoint/1', c.type, c.org, String(c.seq), c.hash, String(c.at), c.keyId].join('\n'),
  );
}

export class AuditSigner {
  readonly keyId: string;
  readonly #private: KeyObject;
  readonly #public: KeyObject;

  private constructor(privateKey: KeyObject) {
    this.#private = privateKey;
    this.#public = createPublicKey(privateKey);
    const raw = this.#public.export({ type: 'spki', format: 'der' });
    this.keyId = createHash('sha256').update(raw).digest('hex').slice(0, 16);
  }

  /** A key that lives only in memory (tests). */
  static generate(): AuditSigner {
    return new AuditSigner(generateKeyPairSync('ed25519').privateKey);
  }

  /**
   * Reads the key from `file`, or creates it there (mode 0600, in a 0700 directory) if there is none. A file
   * that exists but holds no Ed25519 key stops the controller: a silently new key would disown every
   * checkpoint signed so far.
   */
  static async loadOrCreate(file: string): Promise<AuditSigner> {
    let pem: string | undefined;
    try {
      pem = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    }
    if (pem === undefined) {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const fresh = generateKeyPairSync('ed25519').privateKey;
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await fs.writeFile(tmp, fresh.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      try {
        await fs.chmod(tmp, 0o600);
        // link() fails if another process created the key meanwhile: that key wins, and is read below.
        await fs.link(tmp, file).catch((err: unknown) => {
          if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
        });
      } finally {
        await fs.rm(tmp, { force: true });
      }
      pem = await fs.readFile(file, 'utf8');
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new Error(`the audit key file ${file} holds no private key`);
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new Error(`the audit key in ${file} is not an Ed25519 key`);
    return new AuditSigner(key);
  }

  sign(c: UnsignedCheckpoint): AuditCheckpoint {
    const unsigned = { type: c.type, org: c.org, seq: c.seq, hash: c.hash, at: c.at, keyId: this.keyId };
    return { ...unsigned, signature: sign(null, payload(unsigned), this.#private).toString('base64url') };
  }

  /** Whether this key signed exactly this checkpoint. */
  verify(c: AuditCheckpoint): boolean {
    if (c.keyId !== this.keyId) return false;
    try {
      return verify(null, payload(c), this.#public, Buffer.from(c.signature, 'base64url'));
    } catch {
      return false;
    }
  }
}

/** Checks the shape of a checkpoint that came from outside (a file, a request); undefined if it is not one. */
export function asCheckpoint(value: unknown): AuditCheckpoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const str = (k: string) =>
    typeof v[k] === 'string' && (v[k] as string).length > 0 && (v[k] as string).length <= 512;
  const int = (k: string) => Number.isSafeInteger(v[k]) && (v[k] as number) >= 0;
  if (
    (v['type'] !== 'head' && v['type'] !== 'prune') ||
    !str('org') ||
    !int('seq') ||
    typeof v['hash'] !== 'string' ||
    !/^[0-9a-f]{64}$/.test(v['hash']) ||
    !int('at') ||
    !str('keyId') ||
    !str('signature')
  )
    return undefined;
  return {
    type: v['type'],
    org: v['org'] as string,
    seq: v['seq'] as number,
    hash: v['hash'],
    at: v['at'] as number,
    keyId: v['keyId'] as string,
    signature: v['signature'] as string,
  };
}
