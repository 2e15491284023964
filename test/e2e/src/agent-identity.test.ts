// An agent's credential against whoever copies it, on the real controller, agent processes and apiserver:
// the credential is bound to a key the agent made itself, so a copy without the key is refused like any
// unknown credential; a proof of the key opens one connection only; a second agent holding both credential
// and key does not take the cluster from a live agent, and is recorded and counted; a restarted or hung
// agent is replaced within seconds; an agent registered before keys is told how to register again; and the
// cluster's identity is shown to org admins only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { parseAllDocuments } from 'yaml';
import {
  AGENT_EVENTS,
  AGENT_PROOF_HEADER,
  AGENT_PROOF_WINDOW_MS,
  CLUSTER_IDENTITY_HEADER,
  JIT_NAMESPACE_HEADER,
  agentCredentialId,
  agentKeyFingerprint,
  generateAgentKey,
  signAgentProof,
} from '@ztka/protocol';
import { kubectl, testEnv, Ztka, type TestEnv } from '@ztka/testenv';
import { openSqlite } from '@ztka/controller/store/db';

const agentMain = fileURLToPath(import.meta.resolve('@ztka/agent/main'));
const CLUSTER = 'keyed';
const METRICS_TOKEN = randomBytes(24).toString('hex');
const NOT_VALID = { code: 'unauthorized', message: 'a valid agent credential is required' };

let env: TestEnv;
let z: Ztka;
let kubeconfig: string;
let kubeSystemUid: string;
let jitNamespace: string;
/** The agent's credential file, as Ztka.startAgent keeps it. */
let stateFile: string;
/** Agent processes this file started itself (beyond the one Ztka runs). */
const agents = new Set<ChildProcess>();

before(async () => {
  env = await testEnv();
  z = await Ztka.start({ metricsToken: METRICS_TOKEN });
  await z.connectCluster(CLUSTER, env.kubeconfig);
  kubeconfig = await z.kubeconfig(CLUSTER);
  kubeSystemUid = (await env.admin(['get', 'ns', 'kube-system', '-o', 'jsonpath={.metadata.uid}'])).trim();
  stateFile = path.join(z.dir, `agent-${CLUSTER}`, 'credential');
  jitNamespace = (await store((db) => db.selectFrom('clusters').select('jit_namespace').executeTakeFirst()))
    ?.jit_namespace as string;
  assert.match(jitNamespace, /^ztka-jit-/);
});

after(async () => {
  for (const a of agents) a.kill('SIGKILL');
  await z?.stop();
});

/** Reads (or writes) the running controller's SQLite store, as someone on its host could. */
async function store<T>(fn: (db: ReturnType<typeof openSqlite>) => Promise<T>): Promise<T> {
  const db = openSqlite(path.join(z.dir, 'controller', 'ztka.db'));
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

/** What the agent keeps: its credential, and the private key it made when it registered. */
async function agentState(file = stateFile): Promise<{ credential: string; key: KeyObject; pem: string }> {
  const [credential = '', ...pem] = (await fs.readFile(file, 'utf8')).split('\n');
  const keyPem = pem.join('\n');
  return { credential, key: createPrivateKey(keyPem), pem: keyPem };
}

/** Runs one more real agent process of the cluster with the credential file `file`. */
function runAgent(file: string, bootstrapToken?: string): { child: ChildProcess; output: () => string } {
  const child = spawn(
    process.execPath,
    [
      agentMain,
      '--controller-url',
      z.url,
      '--ca-file',
      z.caFile,
      '--kubeconfig',
      env.kubeconfig,
      '--credential-file',
      file,
      '--jit-namespace',
      jitNamespace,
      '--log-level',
      'warn',
      ...(bootstrapToken ? ['--bootstrap-token', bootstrapToken] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  agents.add(child);
  child.on('exit', () => agents.delete(child));
  return { child, output: () => output };
}

/** Dials the agents' endpoint as an agent would, over the HTTP/2 upgrade or WebSocket; 101 is hung up at once. */
function dial(
  headers: Record<string, string>,
  transport: 'h2' | 'websocket' = 'h2',
): Promise<{ status: number; body?: { code: string; message: string } }> {
  const all = { [CLUSTER_IDENTITY_HEADER]: kubeSystemUid, [JIT_NAMESPACE_HEADER]: jitNamespace, ...headers };
  type Answer = { status: number; body?: { code: string; message: string } };
  const answer = (res: IncomingMessage, resolve: (a: Answer) => void) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () =>
      resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code: string; message: string } }),
    );
  };
  return new Promise((resolve, reject) => {
    if (transport === 'websocket') {
      const ws = new WebSocket(`${z.url.replace('https', 'wss')}/v1/agents/connect`, {
        ca: z.ca,
        headers: all,
      });
      ws.on('unexpected-response', (_req, res) => answer(res, resolve));
      ws.on('open', () => {
        ws.terminate();
        resolve({ status: 101 });
      });
      ws.on('error', () => undefined);
      return;
    }
    const req = https.request(`${z.url}/v1/agents/connect`, {
      ca: z.ca,
      agent: false,
      headers: { connection: 'Upgrade', upgrade: 'ztka-tunnel-h2', ...all },
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101 });
    });
    req.on('response', (res) => answer(res, resolve));
    req.on('error', reject);
    req.end();
  });
}

/** A proof of `key` for the cluster's credential and headers, as the agent makes one. */
function proof(credential: string, key: KeyObject, at?: number): string {
  return signAgentProof(
    key,
    { credentialId: agentCredentialId(credential), clusterIdentity: kubeSystemUid, jitNamespace },
    at,
  );
}

interface SystemEvent {
  event: string;
  sourceIp?: string;
  detail: Record<string, unknown>;
}

/** The cluster's agent events in the audit trail, oldest first. */
async function agentEvents(kind?: string): Promise<SystemEvent[]> {
  const res = await z.api<{ items: SystemEvent[] }>('GET', '/v1/audit/system?limit=500');
  assert.equal(res.status, 200);
  return res.body.items
    .filter((e) => e.detail['cluster'] === CLUSTER && (kind === undefined || e.event === kind))
    .reverse();
}

/** The value of one Prometheus series (0 when absent). */
async function metric(series: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(`${z.url}/metrics`, { ca: z.ca, headers: { authorization: `Bearer ${METRICS_TOKEN}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
  return Date.now() - started;
}

/** The cluster answers kubectl through ztka. */
async function served(): Promise<void> {
  const { stdout } = await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig });
  assert.equal(stdout.trim(), 'namespace/default');
}

test('the agent keeps its private key beside its credential; the controller keeps only the public half', async () => {
  const { credential, key, pem } = await agentState();
  assert.match(credential, /^ztka_/);
  assert.equal(key.asymmetricKeyType, 'ed25519');
  assert.equal((await fs.stat(stateFile)).mode & 0o777, 0o600);
  const publicKey = createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64url');
  const rows = await store((db) =>
    db.selectFrom('agent_credentials').select(['id', 'public_key', 'revoked_at']).execute(),
  );
  assert.deepEqual(rows, [{ id: agentCredentialId(credential), public_key: publicKey, revoked_at: null }]);
  const pemBody = pem.split('\n')[1] ?? '';
  assert.ok(pemBody.length > 20);
  const dbFile = path.join(z.dir, 'controller', 'ztka.db');
  for (const f of [dbFile, `${dbFile}-wal`]) {
    const bytes = await fs.readFile(f).catch(() => Buffer.alloc(0));
    assert.ok(!bytes.includes(pemBody), `${f} holds the agent's private key`);
  }
  const [registered] = await agentEvents(AGENT_EVENTS.registered);
  assert.equal(registered?.detail['key'], agentKeyFingerprint(publicKey));
});

test("the cluster's identity is shown to org admins only", async () => {
  const viewer = await z.createUser('keyed-viewer@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const auditor = await z.createUser('keyed-auditor@example.com', [{ role: 'ADMIN_READ_ONLY' }]);
  const shown = async (apiKey?: string) => {
    const one = await z.api<Record<string, unknown>>('GET', `/v1/clusters/${CLUSTER}`, undefined, apiKey);
    const list = await z.api<{ items: Record<string, unknown>[] }>('GET', '/v1/clusters', undefined, apiKey);
    assert.equal(one.status, 200);
    return [one.body['identity'], list.body.items.find((c) => c['name'] === CLUSTER)?.['identity']];
  };
  assert.deepEqual(await shown(), [kubeSystemUid, kubeSystemUid]);
  assert.deepEqual(await shown(viewer.apiKey), [undefined, undefined]);
  assert.deepEqual(await shown(auditor.apiKey), [undefined, undefined]);
});

test('a stolen credential without the key gets the answer an unknown credential gets', async () => {
  const { credential } = await agentState();
  const thief = createPrivateKey(generateAgentKey().privateKeyPem);
  const unknown = `ztka_${randomBytes(9).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
  const before = await metric('ztka_agent_connections_refused_total{reason="key_proof"}');
  for (const transport of ['h2', 'websocket'] as const) {
    const answers = [
      await dial(
        { authorization: `Bearer ${unknown}`, [AGENT_PROOF_HEADER]: proof(unknown, thief) },
        transport,
      ),
      await dial({ authorization: `Bearer ${credential}` }, transport),
      await dial(
        { authorization: `Bearer ${credential}`, [AGENT_PROOF_HEADER]: proof(credential, thief) },
        transport,
      ),
    ];
    for (const answer of answers) assert.deepEqual(answer, { status: 401, body: NOT_VALID });
  }
  // The cluster is still its agent's, and the attempts are on record.
  await served();
  assert.equal(await metric('ztka_agent_connections_refused_total{reason="key_proof"}'), before + 4);
  const [refused] = await agentEvents(AGENT_EVENTS.refused);
  assert.deepEqual(refused?.detail, {
    cluster: CLUSTER,
    reason: 'key_proof',
    credentialId: agentCredentialId(credential),
  });
});

test('a second agent with the same credential and key does not take over a live tunnel, and is recorded', async () => {
  const copy = path.join(z.dir, 'second-agent', 'credential');
  await fs.mkdir(path.dirname(copy), { recursive: true });
  await fs.copyFile(stateFile, copy);
  const connects = async () => (await agentEvents(AGENT_EVENTS.connected)).length;
  const connected = await connects();
  const series = `ztka_agent_tunnel_contests_total{cluster="${CLUSTER}",outcome="refused"}`;
  const counted = await metric(series);
  const contested = (await agentEvents(AGENT_EVENTS.contested)).length;

  const second = runAgent(copy);
  await until(
    'a contest on record',
    async () => (await agentEvents(AGENT_EVENTS.contested)).length > contested,
    20_000,
  );
  const event = (await agentEvents(AGENT_EVENTS.contested)).at(-1);
  assert.equal(event?.detail['outcome'], 'refused');
  assert.ok((await metric(series)) > counted);
  assert.match(second.output(), /already has a live tunnel/);
  // Still the first agent's tunnel: no new connection, and the cluster answers.
  await served();
  assert.equal(await connects(), connected);

  // Once the first agent is gone, the second one gets the cluster.
  await z.stopAgent(CLUSTER);
  await until('the second agent connected', async () => (await connects()) > connected, 40_000);
  await served();
});

test('a proof opens one connection at most, and one dated outside the window is refused as such', async () => {
  const { credential, key } = await agentState();
  const once = proof(credential, key);
  const first = await dial({ authorization: `Bearer ${credential}`, [AGENT_PROOF_HEADER]: once });
  // Credential and key are right, and the live agent keeps the cluster.
  assert.equal(first.status, 409);
  const replayed = await dial({ authorization: `Bearer ${credential}`, [AGENT_PROOF_HEADER]: once });
  assert.deepEqual(replayed, { status: 401, body: NOT_VALID });
  const stale = await dial({
    authorization: `Bearer ${credential}`,
    [AGENT_PROOF_HEADER]: proof(credential, key, Date.now() - AGENT_PROOF_WINDOW_MS - 60_000),
  });
  assert.equal(stale.status, 401);
  assert.match(stale.body?.message ?? '', /more than 5 minutes away from the controller's clock/);
  const reasons = (await agentEvents(AGENT_EVENTS.refused)).map((e) => e.detail['reason']);
  assert.ok(reasons.includes('replay') && reasons.includes('clock'), reasons.join());
  await served();
});

test('a restarted agent reconnects within seconds, whether the old one died or hangs', async (t) => {
  const connects = async () => (await agentEvents(AGENT_EVENTS.connected)).length;
  for (const child of agents) child.kill('SIGKILL');
  await until('no agent left', async () => agents.size === 0, 10_000);

  // A pod restart: the old process is gone, and a new one finds the cluster free at once.
  const contested = (await agentEvents(AGENT_EVENTS.contested)).length;
  let connected = await connects();
  const restarted = runAgent(stateFile);
  const took = await until(
    'the restarted agent connected',
    async () => (await connects()) > connected,
    15_000,
  );
  assert.ok(took < 10_000, `reconnected after ${took} ms`);
  await served();
  assert.equal(
    (await agentEvents(AGENT_EVENTS.contested)).length,
    contested,
    'a clean restart was contested',
  );

  // A hung one (a frozen process, a node gone silent): the new agent replaces it within seconds.
  restarted.child.kill('SIGSTOP');
  connected = await connects();
  const contestedBefore = (await agentEvents(AGENT_EVENTS.contested)).length;
  runAgent(stateFile);
  const replacedIn = await until(
    'the new agent connected',
    async () => (await connects()) > connected,
    20_000,
  );
  assert.ok(replacedIn < 15_000, `connected after ${replacedIn} ms`);
  // Whichever came first: the new agent's probe of the hung tunnel (a contest, replaced), or the keepalive.
  const outcome = (await agentEvents(AGENT_EVENTS.contested))
    .slice(contestedBefore)
    .map((e) => e.detail['outcome']);
  assert.ok(!outcome.includes('refused'), 'a hung agent kept its cluster');
  t.diagnostic(
    `restarted: in ${took} ms; beside a hung one: in ${replacedIn} ms (contests: ${outcome.join() || 'none'})`,
  );
  await served();
  restarted.child.kill('SIGKILL');
});

test('a credential registered before agents held keys is refused with how to register again; registering again works', async () => {
  for (const child of agents) child.kill('SIGKILL');
  await until('no agent left', async () => agents.size === 0, 10_000);
  await z.waitForConnected(CLUSTER, false, 10_000);
  const { credential, key } = await agentState();
  // As a credential issued before migration 007 is: no key on record, none beside the credential.
  await store((db) => db.updateTable('agent_credentials').set({ public_key: null }).execute());
  await fs.writeFile(stateFile, `${credential}\n`);

  const refused = await dial({
    authorization: `Bearer ${credential}`,
    [AGENT_PROOF_HEADER]: proof(credential, key),
  });
  assert.equal(refused.status, 401);
  assert.match(refused.body?.message ?? '', /issued before agents held keys .* register the agent again/);
  assert.ok((await agentEvents(AGENT_EVENTS.refused)).some((e) => e.detail['reason'] === 'no_key'));

  const stuck = runAgent(stateFile);
  const code = await new Promise((resolve) => stuck.child.once('exit', resolve));
  assert.equal(code, 1);
  assert.match(
    stuck.output(),
    /has no key .* register the agent again: in its cluster, apply a fresh bootstrap manifest/,
  );

  // The way out it names: a fresh manifest's bootstrap token.
  const manifest = await z.api<string>('GET', `/v1/clusters/${CLUSTER}/bootstrap.yaml`);
  const token = parseAllDocuments(manifest.body)
    .map((d) => d.toJS() as { kind: string; stringData?: Record<string, string> })
    .find((d) => d.kind === 'Secret')?.stringData?.['bootstrap-token'];
  assert.ok(token);
  runAgent(stateFile, token);
  await z.waitForConnected(CLUSTER, true, 20_000);
  await served();
  const renewed = await agentState();
  assert.notEqual(renewed.credential, credential);
  const rows = await store((db) =>
    db.selectFrom('agent_credentials').select(['id', 'public_key']).where('revoked_at', 'is', null).execute(),
  );
  assert.deepEqual(rows, [
    {
      id: agentCredentialId(renewed.credential),
      public_key: createPublicKey(renewed.key).export({ type: 'spki', format: 'der' }).toString('base64url'),
    },
  ]);
});
