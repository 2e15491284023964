import { createPrivateKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { AGENT_REGISTER_PATH, generateAgentKey } from '@ztka/protocol';
import { upstreamCall, type UpstreamTarget } from './upstream.js';

/**
 * What the agent keeps between runs: its credential and the private key it made when it registered, which
 * proves on every connect that the credential is in the hands it was issued to. A credential stored by an
 * agent older than keys has none.
 */
export interface AgentState {
  credential: string;
  /** PKCS#8 PEM. */
  privateKeyPem?: string;
}

/** Where the agent keeps its state between runs. */
export interface CredentialStore {
  describe: string;
  load(): Promise<AgentState | undefined>;
  save(state: Required<AgentState>): Promise<void>;
}

/** What the agent connects with. */
export interface AgentIdentity {
  credential: string;
  privateKey: KeyObject;
}

/**
 * A file (mode 0600), for an agent running beside the cluster with --kubeconfig: the credential on the first
 * line, the private key's PEM after it (a file written by an agent older than keys has the first line only).
 */
export function fileStore(file: string): CredentialStore {
  return {
    describe: file,
    load: async () => {
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      const [first = '', ...rest] = text.split('\n');
      const credential = first.trim();
      const privateKeyPem = rest.join('\n').trim();
      if (!credential) return undefined;
      return privateKeyPem ? { credential, privateKeyPem: `${privateKeyPem}\n` } : { credential };
    },
    save: async (state) => {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      // Written whole and then renamed: a crash midway must not leave a credential without its key.
      const temp = `${file}.${process.pid}.tmp`;
      await fs.writeFile(temp, `${state.credential}\n${state.privateKeyPem}`, { mode: 0o600 });
      await fs.rename(temp, file);
    },
  };
}

/**
 * The `credential` and `agent-key` keys of the agent's own Secret, for an agent in its cluster: they survive
 * pod restarts, and the agent's RBAC lets it read and write that one Secret only.
 */
export function secretStore(target: UpstreamTarget, namespace: string, name: string): CredentialStore {
  const uri = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
  const decode = (value: string | undefined) => value && Buffer.from(value, 'base64').toString('utf8').trim();
  const encode = (value: string) => Buffer.from(value).toString('base64');
  return {
    describe: `secret ${namespace}/${name}`,
    load: async () => {
      const res = await upstreamCall(target, 'GET', uri);
      if (res.status !== 200)
        throw new Error(`reading secret ${namespace}/${name}: ${res.status} ${res.text.slice(0, 200)}`);
      const data = (JSON.parse(res.text) as { data?: Record<string, string> }).data ?? {};
      const credential = decode(data['credential']);
      const privateKeyPem = decode(data['agent-key']);
      if (!credential) return undefined;
      return privateKeyPem ? { credential, privateKeyPem: `${privateKeyPem}\n` } : { credential };
    },
    save: async (state) => {
      // One patch: the credential and its key are written together or not at all.
      const res = await upstreamCall(target, 'PATCH', uri, {
        data: { credential: encode(state.credential), 'agent-key': encode(state.privateKeyPem) },
      });
      if (res.status !== 200)
        throw new Error(`writing secret ${namespace}/${name}: ${res.status} ${res.text.slice(0, 200)}`);
    },
  };
}

const REREGISTER =
  'register the agent again: in its cluster, apply a fresh bootstrap manifest ' +
  '(GET /v1/clusters/<cluster>/bootstrap.yaml) and restart the agent ' +
  '(kubectl -n ztka-system rollout restart deployment/ztka-agent); beside it, run it with a new --bootstrap-token';

/**
 * The agent's credential and key: from the store when an earlier run saved them, otherwise obtained once by
 * exchanging the single-use bootstrap token for a credential bound to a key made here, and saved. A stored
 * credential without a key (saved by an agent older than keys) is refused by the controller, so it is
 * replaced when a bootstrap token is at hand, and otherwise the agent stops and says how to register again.
 */
export async function obtainCredential(opts: {
  controllerUrl: string;
  ca: string;
  store: CredentialStore;
  bootstrapToken: string | undefined;
  identity: string;
  /** Told when a stored credential without a key is being replaced. */
  warn?: (message: string) => void;
}): Promise<AgentIdentity> {
  const stored = await opts.store.load();
  if (stored?.privateKeyPem)
    return { credential: stored.credential, privateKey: createPrivateKey(stored.privateKeyPem) };
  if (stored && !opts.bootstrapToken)
    throw new Error(
      `the agent credential in ${opts.store.describe} has no key (it was saved by an older agent), and the ` +
        `controller no longer accepts it: ${REREGISTER}`,
    );
  if (!opts.bootstrapToken) {
    throw new Error(`no agent credential in ${opts.store.describe} and no bootstrap token to obtain one`);
  }
  if (stored)
    opts.warn?.(
      `the agent credential in ${opts.store.describe} has no key; registering again with the bootstrap token`,
    );
  const key = generateAgentKey();
  const body = JSON.stringify({
    token: opts.bootstrapToken,
    identity: opts.identity,
    publicKey: key.publicKey,
  });
  const credential = await new Promise<string>((resolve, reject) => {
    const req = https.request(
      new URL(AGENT_REGISTER_PATH, opts.controllerUrl),
      { method: 'POST', ca: opts.ca, headers: { 'content-type': 'application/json' }, timeout: 15_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => {
          if (res.statusCode === 200) return resolve((JSON.parse(text) as { credential: string }).credential);
          const hint = stored ? `; the stored credential has no key: ${REREGISTER}` : '';
          reject(new Error(`registration refused (${res.statusCode}): ${text.slice(0, 300)}${hint}`));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  await opts.store.save({ credential, privateKeyPem: key.privateKeyPem });
  return { credential, privateKey: createPrivateKey(key.privateKeyPem) };
}
