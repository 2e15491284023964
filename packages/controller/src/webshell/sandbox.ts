// The wall around the browser shell's kubectl. Whatever a command line asks of kubectl (any flag, alias or
// path the command-line policy did not foresee), kubectl runs where it can see and change nothing of the
// host but its session directory:
//
// - its own unprivileged uid and gid, one per open shell (never the controller's, never root), with no
//   capabilities, no_new_privs and no way to make user namespaces of its own (util-linux setpriv);
// - bubblewrap's namespaces: an empty read-only root holding only kubectl, the node runtime of the relay
//   and their libraries, `/session` (the session directory, read-write), `/run/ztka` (read-only: the
//   kubeconfig and the kube socket), an empty `/tmp` of bounded size, its own `/proc` (only its own
//   processes), a minimal `/dev`, and no network but its own loopback;
// - one path out: sandbox-init relays the sandbox's loopback to this shell's Unix socket, where the
//   controller serves the kube proxy and accepts no token but this shell's (kube-socket.ts);
// - limits: a cgroup per shell (memory, tasks, CPU share) where the host allows one, and always rlimits
//   per process (CPU seconds, file size, processes, address space, no core dumps); the session bounds the
//   wall time of each command and of the shell.
//
// If any of this is missing, the shell does not start: there is no unconfined fallback.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { createShellCgroup, removeStaleCgroup, type ShellCgroup } from './cgroup.js';
import { spawnKubectl, TERM, type KubectlProcess } from './kubectl-process.js';
import { UidClaims } from './uid-claims.js';
import {
  createWorkDir,
  INIT_FILE,
  KUBECONFIG_FILE,
  removeWorkDir,
  SOCKET_FILE,
  WORK_DIR_PREFIX,
  writeKubeconfig,
  type WorkDir,
} from './work-dir.js';

const run = promisify(execFile);

/** A reason the shell cannot start, worded for the person at the terminal. */
export class ShellUnavailable extends Error {}

export interface ShellLimits {
  /** Memory of the whole shell (cgroup); without a cgroup, each process's address space gets 4×. */
  memoryBytes: number;
  /** Tasks (processes and threads) of the shell at once. */
  tasks: number;
  /** CPU share of the shell, in percent of one core (cgroup). */
  cpuPercent: number;
  /** CPU time of each process, in seconds (rlimit). */
  cpuSeconds: number;
  /** The largest file kubectl may write (rlimit), and the size of the sandbox's /tmp. */
  fileBytes: number;
}

export interface SandboxOptions {
  kubectl: string;
  /** Parent of the session directories. */
  workRoot: string;
  /** Shells (and the start-up probe) get uids uidBase+1 … uidBase+slots, claimed host-wide. */
  uidBase: number;
  /** Where uids are claimed; every controller on the host must use the same one (default HOST_CLAIMS_DIR). */
  claimsDir?: string;
  slots: number;
  limits: ShellLimits;
  tools?: Partial<SandboxTools>;
  log: Logger;
}

export interface SandboxTools {
  bwrap: string;
  setpriv: string;
  prlimit: string;
  sh: string;
  ldd: string;
  /** The runtime of sandbox-init. */
  node: string;
}

const DEFAULT_TOOLS: SandboxTools = {
  bwrap: '/usr/bin/bwrap',
  setpriv: '/usr/bin/setpriv',
  prlimit: '/usr/bin/prlimit',
  sh: '/bin/bash',
  ldd: '/usr/bin/ldd',
  node: process.execPath,
};

/** Where things are inside the sandbox. */
export const INSIDE = {
  home: '/session',
  run: '/run/ztka',
  kubectl: '/usr/bin/kubectl',
  node: '/usr/bin/node',
  /** The relay's port on the sandbox's own loopback. */
  port: 8001,
} as const;

/** The kubeconfig's server for a cluster, as kubectl inside the sandbox reaches it. */
export function insideServerUrl(): string {
  return `https://127.0.0.1:${INSIDE.port}`;
}

/** kubectl's whole environment, built from nothing: none of the controller's variables reach it. */
export function kubectlEnv(): Record<string, string> {
  return {
    HOME: INSIDE.home,
    KUBECONFIG: `${INSIDE.run}/${KUBECONFIG_FILE}`,
    PATH: '/nonexistent', // no plugins, no credential helpers, no shell, no `diff`
    KUBECTL_KUBERC: 'false',
    KUBE_EDITOR: '/bin/false',
    EDITOR: '/bin/false',
    TERM,
    LANG: 'C.UTF-8',
  };
}

// Closes every descriptor the controller inherited past stdio (nothing of the host may ride into the
// sandbox on an open file), joins the shell's cgroups before anything forks, then becomes the rest of the
// command line. The terminal's Ctrl-C and Ctrl-\ are ignored by the wrappers (bubblewrap among them), so
// they reach kubectl rather than tearing the sandbox down (node, and so kubectl, start with default
// handlers again). No input of the person's reaches this script but as "$@" words.
const WRAPPER = [
  "trap '' INT QUIT",
  'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done',
  'for f do [ "$f" = -- ] && break; echo $$ > "$f" || exit 126; shift; done',
  'shift',
  'exec "$@"',
].join('; ');

/** The host pids of every process running as `uid`. */
export async function processesOf(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await fs.promises.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = await fs.promises.readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status)) pids.push(Number(name));
  }
  return pids;
}

/**
 * Kills whatever still runs as the shell's user (its uid is its own, so this is exactly the shell), and
 * waits until the kernel has let go of it, so the uid is clean for the next shell.
 */
async function endAll(uid: number): Promise<void> {
  for (let attempt = 0; attempt < 250; attempt++) {
    const pids = await processesOf(uid);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`processes of uid ${uid} did not end`);
}

/** CAP_CHOWN, CAP_SETGID and CAP_SETUID: what the controller needs to give each shell its own user. */
const NEEDED_CAPS: Array<[number, string]> = [
  [0, 'CAP_CHOWN'],
  [6, 'CAP_SETGID'],
  [7, 'CAP_SETUID'],
];

async function missingCaps(): Promise<string[]> {
  const status = await fs.promises.readFile('/proc/self/status', 'utf8');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
  const eff = BigInt(`0x${hex}`);
  return NEEDED_CAPS.filter(([bit]) => (eff & (1n << BigInt(bit))) === 0n).map(([, name]) => name);
}

/** The shared libraries a dynamic executable loads (empty for a static one, as kubectl usually is). */
async function sharedLibraries(ldd: string, file: string): Promise<string[]> {
  let out: string;
  try {
    out = (await run(ldd, [file], { timeout: 10_000 })).stdout;
  } catch {
    return []; // "not a dynamic executable"
  }
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (m?.[1]) libs.add(m[1]);
  }
  return [...libs];
}

/** A shell's cgroup is named by its uid, so one a crash left behind is found and removed. */
function cgroupName(uid: number): string {
  return `ztka-shell-${uid}`;
}

const INIT_SOURCE = fileURLToPath(new URL('./sandbox-init.js', import.meta.url));

export interface SandboxWorkspace {
  readonly uid: number;
  /** The session directory on the host: the command-line policy checks paths against it. */
  readonly home: string;
  /** Where the controller must listen for this shell's kube requests. */
  readonly socketPath: string;
  /** Whether a cgroup bounds the shell as a whole (else only its per-process rlimits do). */
  readonly cgroup: boolean;
  writeKubeconfig(yaml: string): Promise<void>;
  spawn(args: readonly string[], cols: number, rows: number): KubectlProcess;
  /** Removes the session's directories and cgroup and frees its uid; its processes must have ended. */
  release(): Promise<void>;
}

/**
 * Uids belong to the host, not to one work root: two controllers (or a controller and a test) with different
 * work roots must still see each other's claims. /run is a tmpfs, so claims do not survive a reboot, after
 * which their pids could name unrelated live processes; without access to /run, the system's temp dir.
 */
export const HOST_CLAIMS_DIR = '/run/ztka-shell-uids';

function hostClaimsDir(): string {
  try {
    fs.accessSync(path.dirname(HOST_CLAIMS_DIR), fs.constants.W_OK);
    return HOST_CLAIMS_DIR;
  } catch {
    return path.join(os.tmpdir(), path.basename(HOST_CLAIMS_DIR));
  }
}

export class ShellSandbox {
  readonly #opts: SandboxOptions;
  readonly #tools: SandboxTools;
  readonly #claims: UidClaims;
  #binds: Promise<string[]> | undefined;
  #unboundedNoted = false;
  #ready: Promise<void> | undefined;

  constructor(opts: SandboxOptions) {
    this.#opts = opts;
    this.#tools = { ...DEFAULT_TOOLS, ...opts.tools };
    this.#claims = new UidClaims({
      dir: opts.claimsDir ?? hostClaimsDir(),
      first: opts.uidBase + 1,
      count: opts.slots,
      cleanUp: (uid) => this.#cleanUp(uid),
    });
  }

  /** Checks once (again after a failure) that a sandbox can run here; throws ShellUnavailable if not. */
  ready(): Promise<void> {
    this.#ready ??= this.#check().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #check(): Promise<void> {
    const unavailable = (why: string) =>
      new ShellUnavailable(`the browser shell is not available on this controller: ${why}`);
    for (const [name, file] of Object.entries(this.#tools)) {
      try {
        fs.accessSync(file, fs.constants.X_OK);
      } catch {
        const pkg = name === 'bwrap' ? ' (Debian package bubblewrap)' : '';
        throw unavailable(`${file} is missing or not executable${pkg}`);
      }
    }
    try {
      fs.accessSync(this.#opts.kubectl, fs.constants.X_OK);
    } catch {
      throw unavailable(`kubectl (${this.#opts.kubectl}) is missing or not executable`);
    }
    const caps = await missingCaps();
    if (caps.length > 0)
      throw unavailable(`the controller needs root or ${caps.join(', ')} to run shells as their own users`);
    // What shells of a controller that died left behind is cleaned up before anything else runs.
    await this.#claims.sweep();
    // A real sandbox, as a shell's uid: user namespaces and every bind must work.
    const uid = await this.#claims.claim();
    if (uid === undefined) throw unavailable('every shell uid of this host is taken');
    const work = await createWorkDir(this.#opts.workRoot, uid, INIT_SOURCE, this.#opts.limits.fileBytes);
    try {
      const argv = await this.#argv(work, uid, [], ['-e', 'process.exit(0)'], INSIDE.node);
      await run(argv[0] ?? '', argv.slice(1), { timeout: 30_000, env: { PATH: '/usr/bin:/bin' } });
    } catch (err) {
      const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
      this.#opts.log.error({ err }, 'webshell: the sandbox does not run on this host');
      throw unavailable(`the sandbox does not run on this host (${detail.split('\n')[0] ?? ''})`);
    } finally {
      await removeWorkDir(work.root);
      await this.#claims.release(uid);
    }
  }

  /** Whatever a shell of `uid` left behind: its processes, cgroup and directories. */
  async #cleanUp(uid: number): Promise<void> {
    await endAll(uid);
    await removeStaleCgroup(cgroupName(uid)).catch((err: unknown) =>
      this.#opts.log.warn({ err, uid }, 'webshell: a stale shell cgroup could not be removed'),
    );
    const root = this.#opts.workRoot;
    for (const name of await fs.promises.readdir(root)) {
      if (name.startsWith(`${WORK_DIR_PREFIX}${uid}-`)) await removeWorkDir(path.join(root, name));
    }
  }

  /** Makes a workspace for one shell; throws ShellUnavailable when none can be had. */
  async open(): Promise<SandboxWorkspace> {
    await this.ready();
    const uid = await this.#claims.claim();
    if (uid === undefined)
      throw new ShellUnavailable('this controller runs as many shells as it can: try again later');
    let work: WorkDir | undefined;
    let cgroup: ShellCgroup | undefined;
    try {
      work = await createWorkDir(this.#opts.workRoot, uid, INIT_SOURCE, this.#opts.limits.fileBytes);
      if (!work.bounded && !this.#unboundedNoted) {
        this.#unboundedNoted = true;
        this.#opts.log.warn(
          'webshell: session directories cannot be mounted as bounded tmpfs here (no privilege to mount); only each file is bounded',
        );
      }
      const { memoryBytes, tasks, cpuPercent } = this.#opts.limits;
      cgroup = await createShellCgroup(cgroupName(uid), { memoryBytes, tasks, cpuPercent }).catch(
        (err: unknown) => {
          this.#opts.log.warn({ err }, 'webshell: no cgroup for the shell; only rlimits bound it');
          return undefined;
        },
      );
      // Everything but kubectl's own words is the same for every command of the session.
      const base = await this.#argv(work, uid, cgroup?.procsFiles ?? [], [], INSIDE.kubectl);
      return this.#workspace(work, uid, cgroup, base);
    } catch (err) {
      await cgroup?.remove().catch(() => undefined);
      if (work) await removeWorkDir(work.root).catch(() => undefined);
      await this.#claims.release(uid);
      throw err;
    }
  }

  #workspace(work: WorkDir, uid: number, cgroup: ShellCgroup | undefined, base: string[]): SandboxWorkspace {
    let released = false;
    return {
      uid,
      home: work.home,
      socketPath: path.join(work.run, SOCKET_FILE),
      cgroup: cgroup !== undefined,
      writeKubeconfig: async (yaml) => {
        await writeKubeconfig(work, uid, yaml);
      },
      spawn: (args, cols, rows) => {
        const argv = [...base, ...args];
        return spawnKubectl({
          file: argv[0] ?? '',
          args: argv.slice(1),
          env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TERM },
          cwd: '/',
          cols,
          rows,
        });
      },
      release: async () => {
        if (released) return;
        released = true;
        // If a process of the uid will not end, nothing of it is touched: removing its directory under a
        // live process would race it, and the uid stays claimed until this controller's claims are swept.
        await endAll(uid);
        try {
          await cgroup?.remove();
        } finally {
          await removeWorkDir(work.root);
        }
        // A uid is reused only once nothing of its last shell is left.
        await this.#claims.release(uid);
      },
    };
  }

  /** Read-only binds of the node runtime's and kubectl's libraries, at the paths the loader asks for. */
  #libraryBinds(): Promise<string[]> {
    this.#binds ??= (async () => {
      const libs = new Set<string>();
      for (const file of [this.#tools.node, this.#opts.kubectl]) {
        for (const lib of await sharedLibraries(this.#tools.ldd, file)) libs.add(lib);
      }
      return [...libs].flatMap((lib) => ['--ro-bind', fs.realpathSync(lib), lib]);
    })();
    return this.#binds;
  }

  /** The whole command line: cgroups, rlimits, the shell's own user, then bubblewrap and sandbox-init. */
  async #argv(
    work: WorkDir,
    uid: number,
    procsFiles: readonly string[],
    args: readonly string[],
    program: string,
  ): Promise<string[]> {
    const t = this.#tools;
    const l = this.#opts.limits;
    const addressSpace = Math.max(4 * l.memoryBytes, 2 ** 31);
    const bwrap = [
      t.bwrap,
      '--unshare-all',
      '--unshare-user',
      '--disable-userns',
      '--die-with-parent',
      '--cap-drop',
      'ALL',
      '--hostname',
      'ztka-shell',
      '--ro-bind',
      fs.realpathSync(this.#opts.kubectl),
      INSIDE.kubectl,
      '--ro-bind',
      fs.realpathSync(t.node),
      INSIDE.node,
      ...(await this.#libraryBinds()),
      '--ro-bind',
      work.run,
      INSIDE.run,
      '--bind',
      work.home,
      INSIDE.home,
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--size',
      String(l.fileBytes),
      '--tmpfs',
      '/tmp',
      '--remount-ro',
      '/',
      '--chdir',
      INSIDE.home,
      '--clearenv',
      ...Object.entries(kubectlEnv()).flatMap(([k, v]) => ['--setenv', k, v]),
      '--',
    ];
    const inside =
      program === INSIDE.kubectl
        ? [
            INSIDE.node,
            `${INSIDE.run}/${INIT_FILE}`,
            String(INSIDE.port),
            `${INSIDE.run}/${SOCKET_FILE}`,
            INSIDE.kubectl,
            ...args,
          ]
        : [program, ...args];
    const user = [
      t.setpriv,
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
    ];
    const limits = [
      t.prlimit,
      `--cpu=${l.cpuSeconds}`,
      `--fsize=${l.fileBytes}`,
      `--nproc=${l.tasks}`,
      `--as=${addressSpace}`,
      '--core=0',
      '--nofile=1024',
      '--',
    ];
    const wrapper = [t.sh, '-c', WRAPPER, 'ztka-shell', ...procsFiles, '--'];
    return [...wrapper, ...limits, ...user, ...bwrap, ...inside];
  }
}
