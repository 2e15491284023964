import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { AGENT_REGISTER_PATH } from '@ztka/protocol';
import { upstreamCall, type UpstreamTarget } from './upstream.js';

/** Where the agent keeps its long-lived credential between runs. */
export interface CredentialStore {
  describe: string;
  load(): Promise<string | undefined>;
  save(credential: string): Promise<void>;
}

/** A file (mode 0600), for an agent running beside the cluster with --kubeconfig. */
export function fileStore(file: string): CredentialStore {
  return {
    describe: file,
    load: async () => (await fs.readFile(file, 'utf8').catch(() => '')).trim() || undefined,
    save: async (credential) => {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await fs.writeFile(file, credential + '\n', { mode: 0o600 });
    },
  };
}

/**
 * The `credential` key of the agent's own Secret, for an agent in its cluster: it survives pod restarts,
 * and the agent's RBAC lets it read and write that one Secret only.
 */
export function secretStore(target: UpstreamTarget, namespace: string, name: string): CredentialStore {
  const uri = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
  return {
    describe: `secret ${namespace}/${name}`,
    load: async () => {
      const res = await upstreamCall(target, 'GET', uri);
      if (res.status !== 200)
        throw new Error(`reading secret ${namespace}/${name}: ${res.status} ${res.text.slice(0, 200)}`);
      const data = (JSON.parse(res.text) as { data?: Record<string, string> }).data ?? {};
      return data['credential']
        ? Buffer.from(data['credential'], 'base64').toString('utf8').trim()
        : undefined;
    },
    save: async (credential) => {
      const res = await upstreamCall(target, 'PATCH', uri, {
        data: { credential: Buffer.from(credential).toString('base64') },
      });
      if (res.status !== 200)
        throw new Error(`writing secret ${namespace}/${name}: ${res.status} ${res.text.slice(0, 200)}`);
    },
  };
}

/**
 * The agent's long-lived credential: from the store when an earlier run saved it, otherwise obtained once
 * by exchanging the single-use bootstrap token, and saved.
 */
export async function obtainCredential(opts: {
  controllerUrl: string;
  ca: string;
  store: CredentialStore;
  bootstrapToken: string | undefined;
  identity: string;
}): Promise<string> {
  const stored = await opts.store.load();
  if (stored) return stored;
  if (!opts.bootstrapToken) {
    throw new Error(`no agent credential in ${opts.store.describe} and no bootstrap token to obtain one`);
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
          if (res.statusCode !== 200)
            reject(new Error(`registration refused (${res.statusCode}): ${text.slice(0, 300)}`));
          else resolve((JSON.parse(text) as { credential: string }).credential);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  await opts.store.save(credential);
  return credential;
}
