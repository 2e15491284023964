#!/usr/bin/env node
// `npm run demo`: the real local cluster, a controller on embedded SQLite, and a real agent that registers
// cluster `desktop` (project `desktop`) through the bootstrap-token exchange and dials out to the
// controller; then creates two more users of project `desktop` (a PROJECT_READ_ONLY viewer and a
// NAMESPACE_ADMIN of `team-a`). Writes .demo/<user>.kubeconfig and .demo/<user>.credentials.json beside the
// admin's (.demo/admin.kubeconfig, .demo/credentials.json) and .demo/ready, then runs until interrupted and
// stops everything it started.
//
// `npm run demo -- --kubeconfig FILE [--context NAME]` registers that cluster instead (kind, minikube, a
// cloud cluster), so nobody with a cluster waits for the local one to build. Its agent runs here, with that
// kubeconfig, and keeps people's service accounts in a namespace of its own (`ztka-demo`), never touching a
// real installation's `ztka-system`; on Ctrl-C the demo removes what it made there.
//
// `npm run demo -- --replicas N` runs N controller replicas as a deployment for high availability would:
// one PostgreSQL (Debian's), one serving certificate and secrets key for all (.demo/tls/), a peer listener
// each, and haproxy in front with the PROXY protocol. Everything above dials the balancer's URL only.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { controllerRequest, downloadKubeconfig, loginApiKey, type ApiResponse } from './controller-client.js';
import { kubectl } from './kubectl.js';
import { down, up } from './controlplane.js';
import { startHaproxy, type HaproxyServer } from './haproxy.js';
import { repoRoot } from './paths.js';
import { canListen, freePort } from './ports.js';
import { startOidcProvider, type OidcProviderHandle } from './oidc-provider.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { BALANCER_SOURCE, replicaEnv, replicaFiles } from './replicas.js';

const CLUSTER = 'desktop';
/** Where the agent keeps people's service accounts in an outside cluster. */
const OUTSIDE_JIT_NAMESPACE = 'ztka-demo';
const dir = path.resolve(process.env['ZTKA_DEMO_DIR'] ?? path.join(repoRoot, '.demo'));
const root = (p: string) => path.join(repoRoot, p);
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

const { values: options } = parseArgs({
  args: process.argv.slice(2),
  options: { kubeconfig: { type: 'string' }, context: { type: 'string' }, replicas: { type: 'string' } },
  strict: true,
});
if (options.context !== undefined && options.kubeconfig === undefined) {
  console.error('demo: --context needs --kubeconfig');
  process.exit(2);
}
if (options.replicas !== undefined && !/^[1-9]$/.test(options.replicas)) {
  console.error('demo: --replicas takes a number from 1 to 9');
  process.exit(2);
}
/** How many controller replicas on PostgreSQL; undefined for the one controller on SQLite. */
const replicaCount = options.replicas === undefined ? undefined : Number(options.replicas);

/** What the demo made in an outside cluster, removed when it stops. */
const madeOutside: { kubeconfig: string; namespaces: string[] } | undefined = options.kubeconfig
  ? { kubeconfig: path.join(dir, 'cluster.kubeconfig'), namespaces: [] }
  : undefined;

/** What `--replicas` runs besides the controllers; stopped after them, since they use both to the end. */
let postgres: PostgresServer | undefined;
let balancer: HaproxyServer | undefined;

let stopping = false;
async function stop(code: number): Promise<never> {
  stopping = true;
  await stopChildren();
  await identityProvider?.stop().catch(() => undefined);
  await balancer?.stop();
  await postgres?.stop();
  if (madeOutside) await cleanOutside(madeOutside);
  else await down();
  process.exit(code);
}

/**
 * SIGTERM to the agent and the controllers, and their exit awaited, so that none outlives the demo (or the
 * database it writes to); one that ignores it for 15 s is killed.
 */
async function stopChildren(): Promise<void> {
  const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
  const exited = running.map((c) => new Promise((resolve) => c.once('exit', resolve)));
  for (const child of running.reverse()) child.kill('SIGTERM');
  const timer = setTimeout(() => running.forEach((c) => c.kill('SIGKILL')), 15_000);
  await Promise.all(exited);
  clearTimeout(timer);
}

/** Both values once both have settled: a failure of one must not leave the other starting things unseen. */
async function settled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

async function cleanOutside(made: { kubeconfig: string; namespaces: string[] }): Promise<void> {
  const run = (args: string[]) =>
    kubectl(args, { kubeconfig: made.kubeconfig, timeoutMs: 30_000 }).catch((err: unknown) =>
      console.error(`demo: could not clean up (${args.join(' ')}): ${String(err)}`),
    );
  await run([
    'delete',
    'clusterrolebinding',
    '-l',
    `ztka.dev/jit-namespace=${OUTSIDE_JIT_NAMESPACE}`,
    '--wait=false',
  ]);
  for (const ns of [...made.namespaces, OUTSIDE_JIT_NAMESPACE])
    await run(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
}

/** The outside cluster's kubeconfig, cut to one context with its credentials inline, for the agent. */
async function outsideCluster(file: string, context: string | undefined, into: string): Promise<string> {
  const args = ['config', 'view', '--minify', '--flatten', '--raw'];
  if (context !== undefined) args.push('--context', context);
  const { stdout } = await kubectl(args, { kubeconfig: path.resolve(file) });
  await fsp.writeFile(into, stdout, { mode: 0o600 });
  // Reachable and allowed: the agent needs the cluster's identity and the right to make accounts.
  await kubectl(['get', 'namespace', 'kube-system', '-o', 'name'], { kubeconfig: into, timeoutMs: 30_000 });
  return into;
}

/** The demo's own OpenID Provider, for single sign-on as the seed's person. */
let identityProvider: OidcProviderHandle | undefined;

/**
 * Single sign-on as in the seed: an OpenID Provider (the test one, a real oidc-provider) holding the seed's
 * person, whose group `desktop-admins` the org maps to PROJECT_ADMIN of project desktop.
 */
async function singleSignOn(
  url: string,
  call: <T>(method: string, uri: string, body?: object) => Promise<T>,
): Promise<{ username: string; password: string }> {
  const person = { username: 'demos', password: randomBytes(12).toString('base64url') };
  const client = { id: 'ztka-demo', secret: randomBytes(24).toString('base64url') };
  identityProvider = await startOidcProvider({
    stateDir: path.join(dir, 'identity-provider'),
    users: [
      {
        sub: 'demos',
        username: person.username,
        password: person.password,
        email: 'demos@rafay.co',
        email_verified: true,
        name: 'Demo S.',
        groups: ['desktop-admins'],
      },
    ],
    clients: [
      {
        client_id: client.id,
        client_secret: client.secret,
        redirect_uris: [`${url}/v1/auth/sso/callback`],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      },
    ],
  });
  await call('POST', '/v1/groups', { name: 'desktop-admins' });
  await call('POST', '/v1/role-assignments', {
    group: 'desktop-admins',
    role: 'PROJECT_ADMIN',
    project: 'desktop',
  });
  await call('POST', '/v1/sso/providers', {
    name: 'demo-idp',
    displayName: 'Demo IdP',
    issuer: identityProvider.issuer,
    clientId: client.id,
    clientSecret: client.secret,
    scopes: ['openid', 'email', 'profile', 'groups'],
    allowedDomains: ['rafay.co'],
    caPem: identityProvider.caPem,
    deviceFlow: true,
  });
  return person;
}

/** The controllers users and agents reach at the demo's one URL. */
interface Controllers {
  caFile: string;
  ca: string;
  /** With `--replicas`, each replica's own listener; empty for the one controller. */
  replicas: { name: string; url: string; pid: number | undefined }[];
}

/** The one controller, on embedded SQLite, with the CA it makes itself on first start. */
async function startController(port: number, url: string, adminPassword: string): Promise<Controllers> {
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
    { ZTKA_ADMIN_PASSWORD: adminPassword },
  );
  const caFile = path.join(dir, 'controller', 'tls', 'ca.crt');
  let ca = '';
  await waitFor('the controller', async () => {
    ca = await fsp.readFile(caFile, 'utf8');
    return (await api(`${url}/healthz`, ca, '', 'GET').catch(() => ({ status: 0 }))).status === 200;
  });
  return { caFile, ca, replicas: [] };
}

/**
 * `--replicas`: PostgreSQL, then the replicas, each on a free loopback port of its own and awaited healthy
 * there (the first alone, since it makes the org and its admin; the others together), then haproxy at
 * `port`, awaited until it counts every replica up.
 */
async function startReplicaSet(
  count: number,
  port: number,
  url: string,
  adminPassword: string,
): Promise<Controllers> {
  const log = (line: string) => console.error(`testenv: ${line}`);
  postgres = await startPostgres({ log });
  const database = postgres.url;
  const files = await replicaFiles(path.join(dir, 'tls'));
  const ca = await fsp.readFile(files.tls.caFile, 'utf8');
  const startReplica = async (i: number) => {
    const name = `controller-${i}`;
    const ownPort = await freePort();
    const ownUrl = `https://127.0.0.1:${ownPort}`;
    const child = start(
      name,
      [
        root('packages/controller/dist/main.js'),
        '--data-dir',
        path.join(dir, name),
        '--listen',
        `127.0.0.1:${ownPort}`,
        '--public-url',
        url,
        '--tls-cert-file',
        files.tls.certFile,
        '--tls-key-file',
        files.tls.keyFile,
        '--tls-ca-file',
        files.tls.caFile,
      ],
      { ZTKA_ADMIN_PASSWORD: adminPassword, ...replicaEnv(database, files) },
    );
    await waitFor(name, async () => (await api(`${ownUrl}/healthz`, ca, '', 'GET')).status === 200);
    return { name, url: ownUrl, pid: child.pid };
  };
  const replicas = [await startReplica(1)];
  replicas.push(...(await Promise.all(Array.from({ length: count - 1 }, (_, i) => startReplica(i + 2)))));
  balancer = await startHaproxy({
    backends: replicas.map((r) => new URL(r.url).host),
    port,
    sourceAddress: BALANCER_SOURCE,
    log,
  });
  const lb = balancer;
  await Promise.all(replicas.map((_, i) => lb.waitFor(`c${i}`, 'UP', 30_000)));
  return { caFile: files.tls.caFile, ca, replicas };
}

/** The demo's people besides the admin: one per kind of access the seed's org would have. */
const DEMO_USERS = [
  { name: 'viewer', username: 'viewer@ztka.local', role: 'PROJECT_READ_ONLY', project: 'desktop' },
  {
    name: 'team-a-admin',
    username: 'team-a-admin@ztka.local',
    role: 'NAMESPACE_ADMIN',
    project: 'desktop',
    namespaces: ['team-a'],
  },
] as const;

async function main(): Promise<void> {
  // A fresh cluster has a new identity, so the demo starts from a fresh controller too.
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(path.join(dir, 'logs'), { recursive: true });

  const port = (await canListen(8443)) ? 8443 : await freePort();
  const url = `https://127.0.0.1:${port}`;
  const adminPassword = randomBytes(18).toString('base64url');
  const starting = madeOutside
    ? outsideCluster(options.kubeconfig ?? '', options.context, madeOutside.kubeconfig).then(
        (kubeconfig) => ({
          kubeconfig,
        }),
      )
    : up({ log: (l) => console.error(`testenv: ${l}`) });
  // The controllers need no cluster until the agent starts: replicas, which wait for PostgreSQL and then
  // for each other, start while the cluster does.
  const [cluster, { caFile, ca, replicas }] = await settled(
    starting,
    replicaCount === undefined
      ? starting.then(() => startController(port, url, adminPassword))
      : startReplicaSet(replicaCount, port, url, adminPassword),
  );
  // As the reader sees it: .demo/controller/tls/ca.crt, or .demo/tls/ca.crt for replicas.
  const caShown = path.join('.demo', path.relative(dir, caFile));
  const adminKey = await loginApiKey({ url, ca }, 'admin', adminPassword);
  const call = async <T>(method: string, uri: string, body?: object): Promise<T> => {
    const res = await api<T>(`${url}${uri}`, ca, adminKey, method, body);
    if (res.status >= 300) throw new Error(`${method} ${uri}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  await call('POST', '/v1/projects', { name: 'desktop' });
  const created = await call<{ bootstrapToken: { token: string } }>('POST', '/v1/clusters', {
    name: CLUSTER,
    project: 'desktop',
  });
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
    created.bootstrapToken.token,
    ...(madeOutside ? ['--jit-namespace', OUTSIDE_JIT_NAMESPACE] : []),
  ]);
  await waitFor(
    'the agent to connect',
    async () => (await call<{ connected: boolean }>('GET', `/v1/clusters/${CLUSTER}`)).connected,
  );

  const writePrivate = (file: string, text: string) =>
    fsp.writeFile(path.join(dir, file), text, { mode: 0o600 });
  const credentials = (username: string, password: string) =>
    JSON.stringify({ url, username, password }, null, 2) + '\n';
  await writePrivate(
    'admin.kubeconfig',
    await downloadKubeconfig({ url, ca, token: adminKey }, { cluster: CLUSTER }),
  );
  await writePrivate('credentials.json', credentials('admin', adminPassword));

  // The namespace the team-a admin is given, in the real cluster (an outside one may have it already).
  const teamA = await kubectl(['create', 'namespace', 'team-a'], { kubeconfig: cluster.kubeconfig }).then(
    () => true,
    (err: unknown) => {
      if (madeOutside && /AlreadyExists/.test(String(err))) return false;
      throw err;
    },
  );
  if (teamA) madeOutside?.namespaces.push('team-a');
  for (const user of DEMO_USERS) {
    const password = randomBytes(12).toString('base64url');
    const { name, username, ...role } = user;
    await call('POST', '/v1/users', { username, password });
    await call('POST', '/v1/role-assignments', { user: username, ...role });
    const key = await loginApiKey({ url, ca }, username, password);
    await writePrivate(
      `${name}.kubeconfig`,
      await downloadKubeconfig({ url, ca, token: key }, { cluster: CLUSTER }),
    );
    await writePrivate(`${name}.credentials.json`, credentials(username, password));
  }
  const sso = await singleSignOn(url, call);
  await fsp.writeFile(path.join(dir, 'ready'), '');

  console.log(`
ztka demo is running.

  console:     ${url}   (log in as admin; CA: ${caShown})
  cluster:     ${CLUSTER} (project desktop), ${madeOutside ? `${options.context ?? 'the current context'} of ${options.kubeconfig ?? ''}` : 'a real kube-apiserver'} behind a real agent tunnel
  admin:       admin / ${adminPassword}   (.demo/credentials.json)
  also:        ${DEMO_USERS.map((u) => `${u.username} (${u.role}${'namespaces' in u ? ` of ${u.namespaces.join(',')}` : ''})`).join(', ')}
               credentials and kubeconfigs in .demo/<name>.credentials.json and .demo/<name>.kubeconfig
  single sign-on: "Log in with Demo IdP" as ${sso.username} / ${sso.password} (becomes demos@rafay.co, PROJECT_ADMIN
               through the provider's group desktop-admins); CLI: ztka login --server ${url} --ca-file ${caShown} --sso

  kubectl --kubeconfig .demo/admin.kubeconfig get ns
  kubectl --kubeconfig .demo/viewer.kubeconfig get pods -A
  ztka login --server ${url} --ca-file ${caShown} --username admin

${replicas.length > 0 ? replicaLines(url, replicas) : ''}Logs are in .demo/logs/. Press Ctrl-C to stop everything.`);
}

function replicaLines(url: string, replicas: Controllers['replicas']): string {
  const width = Math.max(...replicas.map((r) => r.name.length));
  return `  replicas:    ${replicas.length} controllers on one PostgreSQL behind haproxy; kubectl, the console and the CLI
               all use ${url}, the balancer's URL, and never a replica's own:
${replicas.map((r) => `                 ${r.name.padEnd(width)}  ${r.url}  pid ${r.pid ?? '?'}`).join('\n')}
               Kill one (kill -9 <pid>) and the demo carries on: haproxy stops sending to it, the agent's
               tunnel comes back on another replica if it was there, and every replica reaches the cluster.

`;
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  void stop(1);
});
