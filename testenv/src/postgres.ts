// Throwaway PostgreSQL servers for tests: each startPostgres() runs initdb into a fresh temporary directory
// and starts a real server on 127.0.0.1 only, at a free port, with trust authentication (loopback-only and
// deleted afterwards). The binaries are Debian's (/usr/lib/postgresql/<version>/bin); if none are installed,
// Debian's `postgresql` package is installed first. PostgreSQL refuses to run as root, so when the tests run
// as root the server runs as the `postgres` OS user.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureDebianPackages } from './debian.js';
import { withLock } from './lock.js';
import { freePort } from './ports.js';

/** Where Debian installs each PostgreSQL major version: `<root>/<version>/bin`. */
export const POSTGRES_ROOT = '/usr/lib/postgresql';
const OS_USER = 'postgres';
const SUPERUSER = 'postgres';
const DATABASE = 'ztka_test';
// What startPostgres runs from the bin directory; all come with Debian's postgresql-<version> package.
const TOOLS = ['initdb', 'postgres', 'pg_ctl', 'pg_isready', 'createdb'] as const;

export interface PostgresInstall {
  /** The major version, e.g. '15'. */
  version: string;
  /** Directory holding initdb, postgres, pg_ctl, pg_isready and createdb. */
  bin: string;
}

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/ztka_test`: no password, trust authentication on loopback. */
  url: string;
  /** Stops the server (immediate shutdown) and deletes its directory. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** How long to wait for the server to accept connections; 60 s by default. Installing is not counted. */
  timeoutMs?: number;
  /** Progress of slow steps (installing PostgreSQL); `testenv: …` on stderr by default. */
  log?: (line: string) => void;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

async function executable(file: string): Promise<boolean> {
  try {
    await fsp.access(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The highest PostgreSQL version installed under `root` (Debian's layout), or undefined if there is none. */
export async function findPostgres(root = POSTGRES_ROOT): Promise<PostgresInstall | undefined> {
  let versions: string[];
  try {
    versions = await fsp.readdir(root);
  } catch {
    return undefined;
  }
  versions = versions.filter((v) => /^\d+(\.\d+)*$/.test(v)).sort((a, b) => compareVersions(b, a));
  for (const version of versions) {
    const bin = path.join(root, version, 'bin');
    const present = await Promise.all(TOOLS.map((tool) => executable(path.join(bin, tool))));
    if (present.every(Boolean)) return { version, bin };
  }
  return undefined;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved; empty when the output went to our stderr. */
  output: string;
}

/** Runs a command to completion. `toStderr` passes its output on to ours instead of collecting it. */
function run(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; toStderr?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const stdio: StdioOptions = opts.toStderr ? ['ignore', 2, 2] : ['ignore', 'pipe', 'pipe'];
    const child = spawn(command, args, { stdio, ...(opts.env ? { env: opts.env } : {}) });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, output }));
  });
}

function describeExit(r: RunResult): string {
  return r.signal ? `was killed by ${r.signal}` : `exited ${String(r.code)}`;
}

async function onPath(name: string): Promise<string | undefined> {
  const dirs = (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin']);
  for (const dir of dirs) {
    if (dir !== '' && (await executable(path.join(dir, name)))) return path.join(dir, name);
  }
  return undefined;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** uid and gid of an OS user from /etc/passwd, or undefined. */
async function osUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await fsp.readFile('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined)
      return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/**
 * The PostgreSQL binaries, installed from Debian's packages if missing (as root only), and — as root — the
 * OS user to run them as, created if missing. Serialized across test processes by a lock.
 */
async function ensurePostgres(
  log: (line: string) => void,
): Promise<{ install: PostgresInstall; user: { uid: number; gid: number } | undefined }> {
  let install = await findPostgres();
  let user = isRoot() ? await osUser(OS_USER) : undefined;
  if (install && (user || !isRoot())) return { install, user };
  if (!isRoot()) {
    throw new Error(
      `PostgreSQL was not found under ${POSTGRES_ROOT}/<version>/bin and only root can install it: ` +
        'apt-get install postgresql',
    );
  }
  await ensureDebianPackages(['postgresql'], async () => (await findPostgres()) !== undefined, log);
  install = await findPostgres();
  if (!install) throw new Error(`PostgreSQL is still missing under ${POSTGRES_ROOT}/<version>/bin`);
  await withLock(path.join(os.tmpdir(), 'ztka-testenv-postgres-install.lock'), async () => {
    user = await osUser(OS_USER);
    if (!user) {
      log(`creating the system user ${OS_USER} to run PostgreSQL as (it refuses to run as root)`);
      const r = await run('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/var/lib/postgresql',
        '--shell',
        '/usr/sbin/nologin',
        OS_USER,
      ]);
      if (r.code !== 0) throw new Error(`useradd ${OS_USER} ${describeExit(r)}: ${r.output.trim()}`);
      user = await osUser(OS_USER);
      if (!user) throw new Error(`useradd ${OS_USER} succeeded but the user is not in /etc/passwd`);
    }
  });
  if (!install) throw new Error('unreachable: no PostgreSQL after installing');
  return { install, user };
}

/**
 * How to run a server binary: as the `postgres` OS user when we are root. setpriv execs the binary itself
 * (so the child's pid is the server's) and, with `--pdeathsig`, has the kernel signal it if this process dies
 * without stopping it; runuser is the fallback.
 */
type Wrap = (command: string, args: readonly string[], deathSignal: 'KILL' | 'QUIT') => [string, string[]];

async function wrapper(user: { uid: number; gid: number } | undefined): Promise<Wrap> {
  if (!user) return (command, args) => [command, [...args]];
  const setpriv = await onPath('setpriv');
  if (setpriv) {
    return (command, args, deathSignal) => [
      setpriv,
      [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        '--init-groups',
        `--pdeathsig=${deathSignal}`,
        '--',
        command,
        ...args,
      ],
    ];
  }
  const runuser = await onPath('runuser');
  if (!runuser) throw new Error('running PostgreSQL as root needs setpriv or runuser (util-linux)');
  return (command, args) => [runuser, ['-u', OS_USER, '--', command, ...args]];
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') || '(empty)';
  } catch {
    return '(no log)';
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** The postmaster's pid from its pid file, if it wrote one. */
function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Stops a server we started: SIGQUIT to the postmaster is PostgreSQL's immediate shutdown (what
 * `pg_ctl stop -m immediate` sends); SIGKILL if it has not exited within `graceMs`.
 */
async function stopServer(child: ChildProcess, dataDir: string, graceMs = 10_000): Promise<void> {
  if (exited(child)) return;
  const pid = postmasterPid(dataDir) ?? child.pid;
  signal(pid, 'SIGQUIT');
  const deadline = Date.now() + graceMs;
  while (!exited(child) && Date.now() < deadline) await sleep(20);
  if (!exited(child)) {
    signal(pid, 'SIGKILL');
    signal(child.pid, 'SIGKILL');
    while (!exited(child)) await sleep(20);
  }
}

/**
 * Starts a throwaway PostgreSQL server for a test and returns its URL once it accepts connections on
 * 127.0.0.1. The cluster lives in a fresh temporary directory (data, Unix socket and `postgres.log`) that
 * `stop()` deletes; fsync is off, so a crash of the machine loses it, which is fine for a test. If the test
 * process exits without calling stop(), the server is killed on exit.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const log = options.log ?? ((line: string) => console.error(`testenv: ${line}`));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const { install, user } = await ensurePostgres(log);
  const wrap = await wrapper(user);
  const tool = (name: (typeof TOOLS)[number]) => path.join(install.bin, name);

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ztka-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  // A clean environment: no PG* variables of the host (PGPORT, PGDATA, …) reach initdb, the server or clients.
  const env: NodeJS.ProcessEnv = {
    PATH: `${install.bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
    HOME: dir,
    LC_ALL: 'C',
    TZ: 'UTC',
  };
  let child: ChildProcess | undefined;
  const onExit = () => {
    // Last resort for a test that never called stop(): nothing asynchronous can run any more.
    if (child && !exited(child)) signal(postmasterPid(dataDir) ?? child.pid, 'SIGKILL');
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort
    }
  };
  process.on('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child) await stopServer(child, dataDir);
      await fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 });
      process.off('exit', onExit);
    })());

  try {
    if (user) {
      await fsp.chown(dir, user.uid, user.gid);
      await fsp.chmod(dir, 0o700);
    }
    const [initCmd, initArgs] = wrap(
      tool('initdb'),
      ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
      'KILL',
    );
    const init = await run(initCmd, initArgs, { env });
    if (init.code !== 0) {
      throw new Error(
        `initdb ${describeExit(init)} (as ${user ? OS_USER : 'this user'}):\n${init.output.trim()}`,
      );
    }

    // The port is free when asked for but is released before the server binds it; another process may take
    // it in between, so a failure to bind is retried with a new port.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const [cmd, args] = wrap(
        tool('postgres'),
        [
          '-D',
          dataDir,
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `port=${port}`,
          '-c',
          `unix_socket_directories=${dir}`,
          '-c',
          'fsync=off',
          '-c',
          'synchronous_commit=off',
          '-c',
          'full_page_writes=off',
        ],
        'QUIT',
      );
      const out = fs.openSync(logFile, 'a');
      try {
        child = spawn(cmd, args, { env, stdio: ['ignore', out, out] });
      } finally {
        fs.closeSync(out);
      }
      // The server must not keep the test process alive; stop() or the exit hook ends it.
      child.unref();
      const server = child;
      let failure: Error | undefined;
      server.once('error', (err) => (failure = err));

      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (failure) throw new Error(`could not start ${cmd}: ${failure.message}`);
        if (exited(server)) break;
        const ready = await run(
          tool('pg_isready'),
          ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', SUPERUSER, '-d', 'postgres', '-t', '1'],
          { env },
        );
        if (ready.code === 0) {
          const created = await run(
            tool('createdb'),
            ['-h', '127.0.0.1', '-p', String(port), '-U', SUPERUSER, DATABASE],
            { env },
          );
          if (created.code !== 0) {
            throw new Error(`createdb ${DATABASE} ${describeExit(created)}: ${created.output.trim()}`);
          }
          return { url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`, stop };
        }
        if (Date.now() > deadline) {
          throw new Error(
            `PostgreSQL ${install.version} did not accept connections on 127.0.0.1:${port} within ` +
              `${timeoutMs / 1000} s; server log:\n${tail(logFile)}`,
          );
        }
        await sleep(50);
      }
      // The server exited before it was ready.
      const serverLog = tail(logFile);
      if (attempt < 3 && /could not bind|could not create any TCP\/IP sockets/.test(serverLog)) continue;
      throw new Error(
        `PostgreSQL ${install.version} exited (${server.signalCode ?? `code ${String(server.exitCode)}`}) ` +
          `before accepting connections on 127.0.0.1:${port}; server log:\n${serverLog}`,
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
}
