import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { TunnelIdentity } from '@ztka/protocol';

const FILE = 'bootstrap-admin.sha256';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/**
 * The bootstrap admin credential: one bearer token with org-admin rights that stands in until users and
 * roles exist. Only its SHA-256 is kept (the token is 32 random bytes, so a fast hash is enough). It comes
 * from ZTKA_ADMIN_TOKEN or, on first start, is generated and returned once so the caller can print it.
 */
export async function loadBootstrapAdmin(dataDir: string, given: string | undefined) {
  const file = path.join(dataDir, FILE);
  let created: string | undefined;
  if (given) {
    await fs.writeFile(file, sha256(given).toString('hex') + '\n', { mode: 0o600 });
  } else if (!(await fs.stat(file).catch(() => undefined))) {
    created = `ztka_admin_${randomBytes(32).toString('base64url')}`;
    await fs.writeFile(file, sha256(created).toString('hex') + '\n', { mode: 0o600 });
  }
  const expected = Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'hex');

  const verify = (token: string) =>
    token.length > 0 && token.length < 512 && timingSafeEqual(sha256(token), expected);
  return {
    /** The token, only when this start generated it. */
    created,
    verify,
    authenticate: async (req: IncomingMessage): Promise<TunnelIdentity | undefined> => {
      const header = req.headers.authorization ?? '';
      const token = header.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : '';
      return verify(token) ? { user: 'admin', role: 'ADMIN' } : undefined;
    },
  };
}
