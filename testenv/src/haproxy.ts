// A real load balancer in front of controllers, for tests of high availability: Debian's haproxy (installed
// if missing) in TCP passthrough, as a production setup would run it in front of ztka (TLS ends at the
// controller). Each backend gets a PROXY protocol v2 header naming the client, is checked at /readyz over
// TLS every half second, and is marked down, its connections cut, within about a second of failing.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureDebianPackages } from './debian.js';
import { freePort } from './ports.js';

export const HAPROXY = '/usr/sbin/haproxy';
/** The backend section's name in the configuration and in `show stat`. */
const BACKEND = 'controllers';

export interface StartHaproxyOptions {
  /** Each controller's own listener, `host:port`; the first is server `c0`, the next `c1`, and so on. */
  backends: readonly string[];
  /** Where clients connect (default 127.0.0.1). */
  listenHost?: string;
  /** The port clients connect to; a free one unless given (a controller's public URL may need it first). */
  port?: number;
  /**
   * The address haproxy connects to the controllers from (default 127.0.0.1). A test that gives the
   * controllers `--proxy-protocol-from` with this address can tell the balancer from clients by it.
   */
  sourceAddress?: string;
  /** Health check interval (ms, default 500); two failures mark a backend down, two passes up. */
  checkIntervalMs?: number;
  /** Progress of slow steps (installing haproxy); `testenv: …` on stderr by default. */
  log?: (line: string) => void;
}

export type BackendState = 'UP' | 'DOWN' | 'NOLB' | 'MAINT' | 'DRAIN' | string;

export interface HaproxyServer {
  /** `https://<listenHost>:<port>`: what users and agents dial. */
  url: string;
  host: string;
  port: number;
  /** The backends' names (`c0`, `c1`, …) in the order given, each with its `host:port`. */
  servers: ReadonlyMap<string, string>;
  /** What haproxy thinks of each backend now, by name: `UP`, `DOWN` (also `UP 1/2` while it changes its mind). */
  states(): Promise<Record<string, BackendState>>;
  /** Waits until `server` (a name, or its `host:port`) is in `state`; throws with every state after `timeoutMs`. */
  waitFor(server: string, state: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  /** haproxy's own output so far (its warnings and one line per connection), for a failing test's message. */
  output(): string;
  /** Stops haproxy and deletes its directory. Safe to call more than once. */
  stop(): Promise<void>;
}

async function haproxyInstalled(): Promise<boolean> {
  try {
    await fsp.access(HAPROXY, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function configuration(opts: StartHaproxyOptions, port: number, socket: string): string {
  const host = opts.listenHost ?? '127.0.0.1';
  const bind = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const inter = opts.checkIntervalMs ?? 500;
  const source = opts.sourceAddress ?? '127.0.0.1';
  return [
    'global',
    '  log stderr format short local0 info',
    `  stats socket ${socket} mode 600 level admin`,
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option tcplog',
    // A connection to a backend that is down or refuses is retried, on another backend once one is left.
    '  option redispatch',
    '  retries 3',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    // Tunnels, watches and exec sessions stay open for hours and may be quiet for minutes.
    '  timeout tunnel 1h',
    '  timeout client-fin 5s',
    '',
    'frontend ztka',
    `  bind ${bind}`,
    `  default_backend ${BACKEND}`,
    '',
    `backend ${BACKEND}`,
    // Agents' tunnels live for hours: new connections go where fewest are.
    '  balance leastconn',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    // The checks carry a PROXY header too (LOCAL: the balancer's own), since the controller refuses a
    // connection from this address without one.
    `  default-server check check-ssl verify none check-send-proxy send-proxy-v2 source ${source} ` +
      `inter ${inter} fall 2 rise 2 on-marked-down shutdown-sessions`,
    ...opts.backends.map((b, i) => `  server c${i} ${b}`),
    '',
  ].join('\n');
}

/** One command on haproxy's admin socket, and its whole answer. */
function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket, () => conn.end(`${command}\n`));
    let out = '';
    conn.setEncoding('utf8').on('data', (s: string) => (out += s));
    conn.on('end', () => resolve(out));
    conn.on('error', reject);
  });
}

/**
 * Starts haproxy in front of `opts.backends` and returns once it listens. The process runs in the
 * foreground (`-db`) as a child of the test, with its configuration and admin socket in a fresh temporary
 * directory that stop() deletes; if the test process exits without calling stop(), haproxy is killed.
 */
export async function startHaproxy(opts: StartHaproxyOptions): Promise<HaproxyServer> {
  const log = opts.log ?? ((line: string) => console.error(`testenv: ${line}`));
  if (opts.backends.length === 0) throw new Error('startHaproxy: no backends');
  await ensureDebianPackages(['haproxy'], haproxyInstalled, log);
  const host = opts.listenHost ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ztka-haproxy-'));
  const socket = path.join(dir, 'admin.sock');
  const config = path.join(dir, 'haproxy.cfg');
  await fsp.writeFile(config, configuration(opts, port, socket));
  const servers = new Map(opts.backends.map((b, i) => [`c${i}`, b]));

  let output = '';
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let failure: Error | undefined;
  child.once('error', (err) => (failure = err));
  const onExit = () => child.kill('SIGKILL');
  process.on('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      process.off('exit', onExit);
      await fsp.rm(dir, { recursive: true, force: true });
    })());

  const states = async (): Promise<Record<string, BackendState>> => {
    // `show stat` is CSV: `# pxname,svname,...,status,...`, one row per frontend, server and backend.
    const [head = '', ...rows] = (await adminCommand(socket, 'show stat')).trim().split('\n');
    const columns = head.replace(/^# /, '').split(',');
    const name = columns.indexOf('svname');
    const status = columns.indexOf('status');
    const result: Record<string, BackendState> = {};
    for (const row of rows) {
      const cells = row.split(',');
      if (cells[0] === BACKEND && servers.has(cells[name] ?? ''))
        result[cells[name] ?? ''] = cells[status] ?? '';
    }
    return result;
  };

  try {
    for (let i = 0; ; i++) {
      if (failure) throw new Error(`could not start ${HAPROXY}: ${failure.message}`);
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`haproxy exited before it listened:\n${output}`);
      if (
        await adminCommand(socket, 'show info').then(
          () => true,
          () => false,
        )
      )
        break;
      if (i > 200) throw new Error(`haproxy did not start within 10 s:\n${output}`);
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    servers,
    states,
    waitFor: async (server, state, timeoutMs = 10_000) => {
      const name = servers.has(server) ? server : [...servers].find(([, b]) => b === server)?.[0];
      if (name === undefined) throw new Error(`haproxy has no backend ${server}`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await states();
        if (now[name] === state) return;
        if (Date.now() > deadline)
          throw new Error(
            `backend ${server} not ${state} in ${timeoutMs} ms: ${JSON.stringify(now)}\n${output}`,
          );
        await sleep(50);
      }
    },
    output: () => output,
    stop,
  };
}
