// Linux network namespaces for end-to-end tests that put a cluster behind NAT: a namespace of the test's own
// with `lo` up and one veth pair to the host (a /30 from 10.213.0.0/16), its default route through the host
// side. Services inside that bind only the namespace's loopback cannot be reached from anywhere else; what
// runs inside can still dial out to the host-side address. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Killed (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
  input?: string;
  /** Resolve with a non-zero exit instead of rejecting. */
  allowFailure?: boolean;
}

/** Runs a command to completion with a deadline; rejects on a non-zero exit with everything it printed. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [command, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const result = { code, stdout, stderr };
      if (timedOut)
        reject(new Error(`${argv.join(' ')} timed out after ${opts.timeoutMs ?? 30_000} ms:\n${stderr}`));
      else if (code !== 0 && !opts.allowFailure)
        reject(new Error(`${argv.join(' ')} exited ${code}:\n${stdout}${stderr}`));
      else resolve(result);
    });
    child.stdin.end(opts.input);
  });
}

export interface Listener {
  address: string;
  port: number;
  /** What ss says about the owning process, e.g. `users:(("etcd",pid=123,fd=7))`. */
  process: string;
}

export interface NetNs {
  name: string;
  /** The host end of the veth pair and its address: where the host serves what the namespace may dial. */
  hostVeth: string;
  hostIp: string;
  /** The namespace's end of the veth pair and its address. */
  nsVeth: string;
  nsIp: string;
  /** The argv prefix that runs a command inside: `['ip', 'netns', 'exec', name]`. */
  execPrefix: readonly string[];
  /** Runs a command inside the namespace to completion. */
  run(argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts a command inside the namespace; the caller stops it. */
  spawn(argv: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Every listening TCP socket (IPv4 and IPv6) in the namespace. */
  listeners(): Promise<Listener[]>;
  /** Stops whatever still runs inside, then deletes the veth pair and the namespace. Safe to call twice. */
  destroy(): Promise<void>;
}

const live = new Set<string>();
let exitHooked = false;

/** Last-resort cleanup when the process ends without `destroy()`: synchronous, so it works in 'exit'. */
function destroySync(name: string, hostVeth: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 5000 }).stdout ?? '';
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['link', 'del', hostVeth], { stdio: 'ignore', timeout: 5000 });
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 5000 });
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const entry of live) {
      const [name, hostVeth] = entry.split(' ') as [string, string];
      destroySync(name, hostVeth);
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = () => {
      process.off(signal, onSignal);
      // The 'exit' handler runs through process.exit; the conventional status says which signal ended us.
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    };
    process.on(signal, onSignal);
  }
}

/** The last line an `ip` failure printed, e.g. `mount --make-shared /run/netns failed: Operation not permitted`. */
const lastLine = (err: unknown) =>
  (err instanceof Error ? err.message : String(err)).trim().split('\n').pop() ?? String(err);

/** Whether this process may create network namespaces and veth pairs; tries once with a throwaway one. */
export async function canCreateNetns(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (process.platform !== 'linux')
    return { ok: false, reason: `network namespaces need Linux, not ${process.platform}` };
  const name = `ztka-probe-${randomBytes(4).toString('hex')}`;
  try {
    await run(['ip', 'netns', 'add', name], { timeoutMs: 10_000 });
  } catch (err) {
    return { ok: false, reason: `cannot create a network namespace: ${lastLine(err)}` };
  }
  try {
    await run(['ip', '-n', name, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1'], {
      timeoutMs: 10_000,
    });
    await run(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `cannot set up a network namespace: ${lastLine(err)}` };
  } finally {
    await run(['ip', 'netns', 'del', name], { timeoutMs: 10_000, allowFailure: true }).catch(() => {});
  }
}

/** A /30 in 10.213.0.0/16 that no interface on the host uses yet: `.1` for the host, `.2` inside. */
async function freeSubnet(): Promise<number> {
  const { stdout } = await run(['ip', '-o', '-4', 'addr', 'show'], { timeoutMs: 10_000 });
  const routes = (await run(['ip', '-o', '-4', 'route', 'show'], { timeoutMs: 10_000 })).stdout;
  for (let i = 0; i < 50; i++) {
    const x = randomInt(1, 255);
    const prefix = `10.213.${x}.`;
    if (!stdout.includes(prefix) && !routes.includes(prefix)) return x;
  }
  throw new Error('no free 10.213.X.0/30 subnet for a test namespace');
}

/**
 * Creates a namespace `<prefix>-<random>` with `lo` up and a veth pair to the host: the host end gets
 * 10.213.X.1/30, the inside end 10.213.X.2/30, and the namespace's default route points at the host end.
 * On any failure everything created so far is removed again.
 */
export async function createNetns(prefix = 'ztka-nat'): Promise<NetNs> {
  const id = randomBytes(3).toString('hex');
  const name = `${prefix}-${id}`;
  const hostVeth = `zn${id}h`;
  const nsVeth = `zn${id}n`;
  const x = await freeSubnet();
  const hostIp = `10.213.${x}.1`;
  const nsIp = `10.213.${x}.2`;
  const execPrefix = ['ip', 'netns', 'exec', name] as const;
  const step = (...argv: string[]) => run(argv, { timeoutMs: 10_000 });

  hookExit();
  await step('ip', 'netns', 'add', name);
  live.add(`${name} ${hostVeth}`);
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    await stopEverythingInside(name);
    await run(['ip', 'link', 'del', hostVeth], { timeoutMs: 10_000, allowFailure: true });
    await run(['ip', 'netns', 'del', name], { timeoutMs: 10_000, allowFailure: true });
    live.delete(`${name} ${hostVeth}`);
    const left = (await run(['ip', 'netns', 'list'], { timeoutMs: 10_000 })).stdout;
    if (left.split('\n').some((l) => l.split(' ')[0] === name))
      throw new Error(`namespace ${name} is still there`);
  };

  try {
    await step('ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    await step('ip', 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', nsVeth, 'netns', name);
    await step('ip', 'addr', 'add', `${hostIp}/30`, 'dev', hostVeth);
    await step('ip', 'link', 'set', hostVeth, 'up');
    await step('ip', 'netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsVeth);
    await step('ip', 'netns', 'exec', name, 'ip', 'link', 'set', nsVeth, 'up');
    await step('ip', 'netns', 'exec', name, 'ip', 'route', 'add', 'default', 'via', hostIp);
    await waitForLink(hostIp, nsIp, execPrefix);
  } catch (err) {
    await destroy().catch(() => {});
    throw err;
  }

  return {
    name,
    hostVeth,
    hostIp,
    nsVeth,
    nsIp,
    execPrefix,
    run: (argv, opts) => run([...execPrefix, ...argv], opts),
    spawn: (argv, opts = {}) => spawn('ip', ['netns', 'exec', name, ...argv], opts),
    listeners: async () => {
      const { stdout } = await run([...execPrefix, 'ss', '-Hltnp'], { timeoutMs: 10_000 });
      return stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((line) => {
          // State Recv-Q Send-Q Local:Port Peer:Port Process
          const cols = line.trim().split(/\s+/);
          const local = cols[3] ?? '';
          const colon = local.lastIndexOf(':');
          return {
            address: local
              .slice(0, colon)
              .replace(/^\[|\]$/g, '')
              .replace(/%.*$/, ''),
            port: Number(local.slice(colon + 1)),
            process: cols.slice(5).join(' '),
          };
        });
    },
    destroy,
  };
}

/**
 * Waits until the veth pair passes traffic both ways (DAD and link-up take a moment): a listener on the
 * host end must accept a connection made from inside.
 */
async function waitForLink(hostIp: string, nsIp: string, execPrefix: readonly string[]): Promise<void> {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, hostIp, resolve));
  const { port } = server.address() as net.AddressInfo;
  const probe = `const s=require('net').connect({host:'${hostIp}',port:${port},localAddress:'${nsIp}'},()=>process.exit(0));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(2),2000)`;
  try {
    for (let i = 0; ; i++) {
      const { code } = await run([...execPrefix, process.execPath, '-e', probe], {
        timeoutMs: 10_000,
        allowFailure: true,
      });
      if (code === 0) return;
      if (i >= 20) throw new Error(`the veth pair ${hostIp} <-> ${nsIp} does not pass traffic`);
      await sleep(100);
    }
  } finally {
    server.close();
  }
}

/** SIGTERM to every process left in the namespace, SIGKILL to those still there after 5 s. */
async function stopEverythingInside(name: string): Promise<void> {
  const pids = async () =>
    (await run(['ip', 'netns', 'pids', name], { timeoutMs: 10_000, allowFailure: true })).stdout
      .split('\n')
      .filter(Boolean)
      .map(Number);
  const signal = (list: number[], sig: NodeJS.Signals) => {
    for (const pid of list) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  let left = await pids();
  if (left.length === 0) return;
  signal(left, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = await pids();
  }
  signal(left, 'SIGKILL');
  for (let i = 0; i < 50 && (await pids()).length > 0; i++) await sleep(100);
}

/**
 * Tries a TCP connection from this process (the host) and says how it ended: `connected`, or the error
 * code (ECONNREFUSED, EHOSTUNREACH, ...) or `timeout`.
 */
export function tcpProbe(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: string) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done('timeout'));
    socket.once('connect', () => done('connected'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
