// Several controller replicas as a deployment runs them: one PostgreSQL, one serving certificate and one
// secrets key for all, a peer listener each, and haproxy in front (TCP passthrough with PROXY protocol v2,
// health checks on /readyz). Users and agents dial the balancer's URL only.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startHaproxy, type HaproxyServer } from './haproxy.js';
import { createCa, issueCert } from './pki.js';
import { freePort } from './ports.js';
import { startPostgres, type PostgresServer } from './postgres.js';
import { Ztka } from './ztka.js';

const run = promisify(execFile);

/** The address haproxy connects to the replicas from: the one the replicas take PROXY headers from. */
export const BALANCER_SOURCE = '127.0.0.4';

export interface ReplicaSetOptions {
  /** How many replicas (default 3). */
  count?: number;
  /** A PostgreSQL to use (default: a new one, stopped with the set). */
  postgres?: PostgresServer;
  adminPassword?: string;
  /** Extra environment for every replica. */
  env?: Record<string, string>;
}

export interface ReplicaSet {
  /** The balancer's URL: the one URL users and agents are given. */
  url: string;
  /** The CA of the replicas' shared serving certificate. */
  ca: string;
  caFile: string;
  replicas: readonly Ztka[];
  haproxy: HaproxyServer;
  postgres: PostgresServer;
  adminPassword: string;
  /** haproxy's name for replica `i`'s backend (`c<i>`). */
  backend(i: number): string;
  /**
   * Which replica listens at `peerUrl` (a `controller_replicas.peer_url`): replica ids are the controllers'
   * own, so a test that found a tunnel's holder in the store finds its process by the port.
   */
  replicaAt(peerUrl: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** What every replica of one set must share: its serving certificate and its secrets key. */
export interface ReplicaFiles {
  tls: { certFile: string; keyFile: string; caFile: string };
  secretsKeyFile: string;
}

/**
 * Writes into `dir` a serving certificate for 127.0.0.1 and localhost (`serving.crt`, `serving.key`) from a
 * CA of its own (`ca.crt`), and a secrets key (`secrets.key`). The CA's key is deleted once the certificate
 * is issued: a person told to trust `ca.crt` in a browser then trusts this one certificate and nothing else.
 */
export async function replicaFiles(dir: string): Promise<ReplicaFiles> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa(dir, '/CN=ztka replicas CA');
  const serving = await issueCert(
    dir,
    'serving',
    '/CN=ztka controller',
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ].join('\n') + '\n',
    ca,
  );
  await fs.rm(ca.caKey);
  const secretsKeyFile = path.join(dir, 'secrets.key');
  await fs.writeFile(secretsKeyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return { tls: { certFile: serving.cert, keyFile: serving.key, caFile: ca.caCert }, secretsKeyFile };
}

/**
 * The environment that makes a controller one replica of a set: the shared database and secrets key, a peer
 * listener of its own on a free loopback port, and PROXY headers taken from the balancer only.
 */
export function replicaEnv(databaseUrl: string, files: ReplicaFiles): Record<string, string> {
  return {
    ZTKA_DATABASE: databaseUrl,
    ZTKA_SECRETS_KEY_FILE: files.secretsKeyFile,
    ZTKA_PEER_LISTEN: '127.0.0.1:0',
    ZTKA_PROXY_PROTOCOL_FROM: BALANCER_SOURCE,
  };
}

export async function startReplicas(opts: ReplicaSetOptions = {}): Promise<ReplicaSet> {
  const count = opts.count ?? 3;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-replicas-'));
  const ownPostgres = opts.postgres === undefined;
  const postgres = opts.postgres ?? (await startPostgres());
  const replicas: Ztka[] = [];
  let haproxy: HaproxyServer | undefined;
  try {
    const files = await replicaFiles(dir);
    const { tls } = files;
    const port = await freePort('127.0.0.1');
    const url = `https://127.0.0.1:${port}`;
    const adminPassword = opts.adminPassword ?? randomBytes(18).toString('base64url');
    const start = () =>
      Ztka.start({
        publicUrl: url,
        tls,
        adminPassword,
        env: { ...replicaEnv(postgres.url, files), ...opts.env },
      });
    // The first makes the org and admin; the rest join it together.
    replicas.push(await start());
    replicas.push(...(await Promise.all(Array.from({ length: count - 1 }, start))));
    haproxy = await startHaproxy({
      backends: replicas.map((r) => new URL(r.listenUrl).host),
      port,
      sourceAddress: BALANCER_SOURCE,
    });
    const lb = haproxy;
    await Promise.all(replicas.map((_, i) => lb.waitFor(`c${i}`, 'UP', 15_000)));
    const ca = await fs.readFile(tls.caFile, 'utf8');
    return {
      url,
      ca,
      caFile: tls.caFile,
      replicas,
      haproxy: lb,
      postgres,
      adminPassword,
      backend: (i) => `c${i}`,
      replicaAt: async (peerUrl) => {
        const { stdout } = await run('ss', ['-Htlnp', `sport = :${new URL(peerUrl).port}`]);
        const pid = Number(/pid=(\d+)/.exec(stdout)?.[1]);
        const index = replicas.findIndex((r) => r.controllerPid === pid);
        return index === -1 ? undefined : index;
      },
      stop: async () => {
        await lb.stop();
        await Promise.all(replicas.map((r) => r.stop()));
        if (ownPostgres) await postgres.stop();
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await haproxy?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    if (ownPostgres) await postgres.stop();
    throw err;
  }
}
