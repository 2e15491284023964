#!/usr/bin/env node
// `npm run demo`: the real local cluster, a controller on embedded SQLite, and a real agent that registers
// cluster `desktop` (project `desktop`) through the bootstrap-token exchange and dials out to the
// controller. Writes .demo/admin.kubeconfig, .demo/credentials.json and .demo/ready, then runs until
// interrupted and stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { controllerKubeconfig, controllerRequest, type ApiResponse } from './controller-client.js';
import { down, up } from './controlplane.js';
import { repoRoot } from './paths.js';
import { canListen, freePort } from './ports.js';

const CLUSTER = 'desktop';
const dir = path.resolve(process.env['ZTKA_DEMO_DIR'] ?? path.join(repoRoot, '.demo'));
const children: ChildProcess[] = [];

function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const log = fs.openSync(path.join(dir, 'logs', `${name}.log`), 'a');
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  children.push(child);
  child.on('exit', (code) => {
    if (!stopping) console.error(`demo: ${name} exited (${code}); see .demo/logs/${name}.log`);
  });
  return child;
}

function api<T>(
  url: string,
  ca: string,
  token: string,
  method: string,
  body?: object,
): Promise<ApiResponse<T>> {
  const { origin, pathname } = new URL(url);
  return controllerRequest<T>({ url: origin, ca, token }, method, pathname, body);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; see .demo/logs/`);
    await sleep(200);
  }
}

let stopping = false;
async function stop(code: number): Promise<never> {
  stopping = true;
  for (const child of children.reverse()) child.kill('SIGTERM');
  await sleep(500);
  await down();
  process.exit(code);
}

async function main(): Promise<void> {
  // A fresh cluster has a new identity, so the demo starts from a fresh controller too.
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(path.join(dir, 'logs'), { recursive: true });

  const cluster = await up({ log: (l) => console.error(`testenv: ${l}`) });
  const port = (await canListen(8443)) ? 8443 : await freePort();
  const url = `https://127.0.0.1:${port}`;
  const adminToken = `ztka_admin_${randomBytes(32).toString('base64url')}`;
  const root = (p: string) => path.join(repoRoot, p);

  start(
    'controller',
    [
      root('packages/controller/dist/main.js'),
      '--data-dir',
      path.join(dir, 'controller'),
      '--listen',
      `127.0.0.1:${port}`,
      '--public-url',
      url,
    ],
    {
      ZTKA_ADMIN_TOKEN: adminToken,
    },
  );
  const caFile = path.join(dir, 'controller', 'tls', 'ca.crt');
  let ca = '';
  await waitFor('the controller', async () => {
    ca = await fsp.readFile(caFile, 'utf8');
    return (await api(`${url}/healthz`, ca, adminToken, 'GET').catch(() => ({ status: 0 }))).status === 200;
  });

  const created = await api<{ bootstrapToken: { token: string } }>(
    `${url}/v1/clusters`,
    ca,
    adminToken,
    'POST',
    { name: CLUSTER, project: 'desktop' },
  );
  if (created.status !== 201) throw new Error(`registering cluster ${CLUSTER} failed: ${created.status}`);
  start('agent', [
    root('packages/agent/dist/main.js'),
    '--controller-url',
    url,
    '--ca-file',
    caFile,
    '--kubeconfig',
    cluster.kubeconfig,
    '--credential-file',
    path.join(dir, 'agent', 'credential'),
    '--bootstrap-token',
    created.body.bootstrapToken.token,
  ]);
  await waitFor('the agent to connect', async () => {
    const res = await api<{ connected: boolean }>(`${url}/v1/clusters/${CLUSTER}`, ca, adminToken, 'GET');
    return res.body.connected;
  });

  const kubeconfig = path.join(dir, 'admin.kubeconfig');
  await fsp.writeFile(
    kubeconfig,
    controllerKubeconfig({ url, ca, cluster: CLUSTER, token: adminToken, user: 'admin' }),
    {
      mode: 0o600,
    },
  );
  // Until users and passwords exist, the bootstrap admin token is the admin's password.
  await fsp.writeFile(
    path.join(dir, 'credentials.json'),
    JSON.stringify({ url, username: 'admin', password: adminToken }, null, 2) + '\n',
    { mode: 0o600 },
  );
  await fsp.writeFile(path.join(dir, 'ready'), '');

  console.log(`
ztka demo is running.

  controller:  ${url}   (CA: .demo/controller/tls/ca.crt)
  cluster:     ${CLUSTER} (project desktop), a real kube-apiserver behind a real agent tunnel
  credentials: .demo/credentials.json

  kubectl --kubeconfig .demo/admin.kubeconfig get ns

Logs are in .demo/logs/. Press Ctrl-C to stop everything.`);
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  void stop(1);
});
