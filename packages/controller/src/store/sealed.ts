// Secrets the controller must be able to use again, unlike the credentials it only verifies: an OpenID
// Provider's client secret and refresh tokens, a person's TOTP seed. They are stored sealed with AES-256-GCM
// under a key kept in a file of its own, never in the database: a copy of the database alone gives none of
// them. Each value is bound to where it belongs (`context`, e.g. `oidc-client-secret:<provider id>`) as
// additional authenticated data, so a sealed value copied into another row or column does not open.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

export class SealError extends Error {}

export class SecretBox {
  /** Names the key a value was sealed with, so a value sealed under another key is told apart from tampering. */
  readonly keyId: string;
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new SealError(`a secrets key is ${KEY_BYTES} bytes`);
    this.#key = key;
    this.keyId = createHash('sha256').update('ztka-secrets-key').update(key).digest('hex').slice(0, 12);
  }

  /** A key that lives only in memory (tests). */
  static generate(): SecretBox {
    return new SecretBox(randomBytes(KEY_BYTES));
  }

  /**
   * Reads the key from `file` (base64 of 32 bytes), or creates it there (0600 in a 0700 directory) if there
   * is none. A file that exists but holds no valid key stops the controller: a silently new key would make
   * every sealed secret unreadable. Replicas sharing one database must share this file.
   */
  static async loadOrCreate(file: string): Promise<SecretBox> {
    let text: string | undefined;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    }
    if (text === undefined) {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      const key = randomBytes(KEY_BYTES);
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await fs.writeFile(tmp, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      try {
        // A link, not a rename: if another process created the key meanwhile, theirs wins and is read below.
        await fs.link(tmp, file);
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
      } finally {
        await fs.rm(tmp, { force: true });
      }
      text = await fs.readFile(file, 'utf8');
    }
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length !== KEY_BYTES || key.toString('base64') !== text.trim())
      throw new SealError(`${file} does not hold a secrets key (base64 of ${KEY_BYTES} bytes)`);
    return new SecretBox(key);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      this.keyId,
      iv.toString('base64url'),
      body.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** The plaintext of a value sealed by `seal` under the same key and context; throws SealError otherwise. */
  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new SealError('not a sealed value');
    const [, keyId, iv, body, tag] = parts as [string, string, string, string, string];
    if (keyId !== this.keyId)
      throw new SealError(`sealed under another secrets key (${keyId}); this controller has ${this.keyId}`);
    const ivBytes = Buffer.from(iv, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES)
      throw new SealError('not a sealed value');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, ivBytes);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      throw new SealError('a sealed value did not open: altered, or sealed for another place');
    }
  }
}
