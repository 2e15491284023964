// Runs the test OpenID Provider (./oidc-provider/main.ts) as a child process for tests of single sign-on:
// a real oidc-provider over TLS on 127.0.0.1, whose users a test changes while it runs.
import { spawn, type ChildProcess } from 'node:child_process';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  CONFIG_FILE,
  USERS_FILE,
  readUsers,
  writeJsonAtomic,
  type OidcClient,
  type OidcProviderOptions,
  type OidcUser,
} from './oidc-provider/config.js';
import { repoRoot } from './paths.js';

export type { OidcClient, OidcGrantType, OidcProviderOptions, OidcUser } from './oidc-provider/config.js';

const providerMain = path.join(repoRoot, 'testenv/dist/oidc-provider/main.js');

export interface StartOidcProviderOptions {
  users: OidcUser[];
  clients: OidcClient[];
  options?: OidcProviderOptions;
  /**
   * Where the provider keeps its CA, keys, sessions and tokens; a fresh temporary directory, deleted by
   * stop(), unless given. A directory used before gives the same CA and keys, so earlier tokens stay valid.
   */
  stateDir?: string;
  /** 0, the default, for a free port. */
  port?: number;
  /** How long to wait for the provider to be ready; 30 s by default. */
  timeoutMs?: number;
}

export interface OidcProviderHandle {
  /** `https://127.0.0.1:<port>`, without a trailing slash. */
  readonly issuer: string;
  readonly port: number;
  /** The CA that signed the provider's TLS certificate: `<stateDir>/tls/ca.crt`. */
  readonly caFile: string;
  readonly caPem: string;
  readonly stateDir: string;
  /** The provider's pid; a restart changes it. */
  readonly pid: number;
  /** What the provider logged (its stderr), for a test's failure message. */
  readonly log: string;
  users(): Promise<OidcUser[]>;
  /** Replaces every user; the provider reads the file at its next login or claims lookup. */
  setUsers(users: readonly OidcUser[]): Promise<void>;
  /** Changes one user (groups, email, `disabled`, …); throws if there is no user `sub`. */
  updateUser(sub: string, patch: Partial<Omit<OidcUser, 'sub'>>): Promise<void>;
  /**
   * Puts a new signing key in front of the JWKS and signs with it from then on; the old keys stay published.
   * Resolves to the new key's `kid` once the provider uses it.
   */
  rotateKeys(): Promise<string>;
  /** Stops the provider and starts it again on the same port and state: sessions and tokens survive. */
  restart(): Promise<void>;
  /** Stops the provider (and deletes its state directory if startOidcProvider made it). Safe to repeat. */
  stop(): Promise<void>;
}

interface Ready {
  issuer: string;
  caFile: string;
  port: number;
  pid: number;
}

/** The provider process, its JSON lines on stdout handed to whoever waits for them. */
class ProviderProcess {
  log = '';
  private readonly waiters = new Set<(line: Record<string, unknown>) => boolean>();
  private readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.log += s));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.log += `${line}\n`;
        return;
      }
      for (const waiter of this.waiters) if (waiter(value)) this.waiters.delete(waiter);
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The first line of stdout that `pick` accepts, or an error if the process exits or `timeoutMs` passes. */
  next<T>(
    what: string,
    pick: (line: Record<string, unknown>) => T | undefined,
    timeoutMs: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = (why: string) => {
        this.waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`the OIDC provider ${why} before ${what}; its log:\n${this.log.slice(-4000)}`));
      };
      const waiter = (line: Record<string, unknown>) => {
        const value = pick(line);
        if (value === undefined) return false;
        clearTimeout(timer);
        resolve(value);
        return true;
      };
      // Also what keeps this process alive while it waits: the child and its pipes are unref'd.
      const timer = setTimeout(() => fail(`took ${timeoutMs / 1000} s`), timeoutMs);
      this.waiters.add(waiter);
      void this.exited.then(() => fail('exited'));
    });
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function spawnProvider(stateDir: string, port: number): ProviderProcess {
  const child = spawn(process.execPath, [providerMain, '--state-dir', stateDir, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test that forgets stop() must still end; the exit hook below kills the provider then.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
  return new ProviderProcess(child);
}

function isReady(line: Record<string, unknown>): Ready | undefined {
  return typeof line['issuer'] === 'string' ? (line as unknown as Ready) : undefined;
}

/**
 * Starts the test OpenID Provider with these clients and users and resolves once it serves its discovery
 * document. The provider is killed when this process exits, if stop() was not called.
 */
export async function startOidcProvider(opts: StartOidcProviderOptions): Promise<OidcProviderHandle> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const ownDir = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-oidc-')));
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(path.join(stateDir, CONFIG_FILE), { ...opts.options, clients: opts.clients });
  await writeJsonAtomic(path.join(stateDir, USERS_FILE), opts.users);

  let proc = spawnProvider(stateDir, opts.port ?? 0);
  const onExit = () => {
    // Last resort for a test that never called stop(): nothing asynchronous can run any more.
    if (proc.running) proc.child.kill('SIGKILL');
    if (ownDir) fsSync.rmSync(stateDir, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  let ready: Ready;
  try {
    ready = await proc.next('it was ready', isReady, timeoutMs);
  } catch (err) {
    await proc.stop();
    process.off('exit', onExit);
    if (ownDir) await fs.rm(stateDir, { recursive: true, force: true });
    throw err;
  }
  const caPem = await fs.readFile(ready.caFile, 'utf8');
  const usersFile = path.join(stateDir, USERS_FILE);
  let stopping: Promise<void> | undefined;

  return {
    issuer: ready.issuer,
    port: ready.port,
    caFile: ready.caFile,
    caPem,
    stateDir,
    get pid() {
      return proc.child.pid ?? -1;
    },
    get log() {
      return proc.log;
    },
    users: () => readUsers(stateDir),
    setUsers: (users) => writeJsonAtomic(usersFile, users),
    async updateUser(sub, patch) {
      const users = await readUsers(stateDir);
      const i = users.findIndex((u) => u.sub === sub);
      if (i < 0) throw new Error(`the OIDC provider has no user ${sub}`);
      users[i] = { ...users[i]!, ...patch, sub };
      await writeJsonAtomic(usersFile, users);
    },
    async rotateKeys() {
      const rotated = proc.next(
        'it rotated its keys',
        (line) => (typeof line['rotated'] === 'string' ? line['rotated'] : undefined),
        timeoutMs,
      );
      proc.child.kill('SIGHUP');
      return rotated;
    },
    async restart() {
      await proc.stop();
      const log = proc.log;
      proc = spawnProvider(stateDir, ready.port);
      proc.log = log;
      const again = await proc.next('it was ready again', isReady, timeoutMs);
      if (again.issuer !== ready.issuer) throw new Error(`the restarted provider has issuer ${again.issuer}`);
    },
    stop: () =>
      (stopping ??= (async () => {
        await proc.stop();
        process.off('exit', onExit);
        if (ownDir) await fs.rm(stateDir, { recursive: true, force: true });
      })()),
  };
}
