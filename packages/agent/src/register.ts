import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { AGENT_REGISTER_PATH } from '@ztka/protocol';

/**
 * The agent's long-lived credential: read from `credentialFile` when an earlier run stored it, otherwise
 * obtained once by exchanging the single-use bootstrap token and stored there (mode 0600).
 */
export async function obtainCredential(opts: {
  controllerUrl: string;
  ca: string;
  credentialFile: string;
  bootstrapToken: string | undefined;
  identity: string;
}): Promise<string> {
  const stored = await fs.readFile(opts.credentialFile, 'utf8').catch(() => '');
  if (stored.trim()) return stored.trim();
  if (!opts.bootstrapToken) {
    throw new Error(`no agent credential in ${opts.credentialFile} and no bootstrap token to obtain one`);
  }
  const body = JSON.stringify({ token: opts.bootstrapToken, identity: opts.identity });
  const credential = await new Promise<string>((resolve, reject) => {
    const req = https.request(
      new URL(AGENT_REGISTER_PATH, opts.controllerUrl),
      { method: 'POST', ca: opts.ca, headers: { 'content-type': 'application/json' }, timeout: 15_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`registration refused (${res.statusCode}): ${text.slice(0, 300)}`));
            return;
          }
          resolve((JSON.parse(text) as { credential: string }).credential);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  await fs.mkdir(path.dirname(opts.credentialFile), { recursive: true, mode: 0o700 });
  await fs.writeFile(opts.credentialFile, credential + '\n', { mode: 0o600 });
  return credential;
}
