// Runs the real ztka binaries for end-to-end tests and benchmarks: a controller on a loopback port with its
// own data directory, and agents registered through the real bootstrap-token exchange.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  controllerRequest,
  downloadKubeconfig,
  kubeconfigToken,
  loginApiKey,
  type ApiResponse,
} from './controller-client.js';
import { kubectl } from './kubectl.js';
import { repoRoot } from './paths.js';
import { freePort } from './ports.js';

const controllerMain = path.join(repoRoot, 'packages/controller/dist/main.js');
const agentMain = path.join(repoRoot, 'packages/agent/dist/main.js');

/** A process whose output is kept for the failure message of a test. */
class Proc {
  output = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    // A frozen process (freezeAgent) would hold the signal until it runs again.
    this.child.kill('SIGCONT');
    // A graceful stop writes what is pending (audit counts, the last checkpoint); a loaded machine is slow.
    const timer = setTimeout(() => {
      // Said aloud: a test that then misses what the stop should have written needs to know why.
      process.stderr.write(
        `testenv: pid ${this.child.pid} ignored SIGTERM for 15 s; killed. Its output:\n${this.output.slice(-4000)}\n`,
      );
      this.child.kill('SIGKILL');
    }, 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface StartOptions {
  /** The address the controller listens on (default 127.0.0.1); `0.0.0.0` for every address. */
  listenHost?: string;
  /**
   * How often the controller pings agents; tests use 1 s so dead tunnels are noticed fast, and null leaves
   * the controller's own default (for tests of what a default installation does).
   */
  agentPingIntervalMs?: number | null;
  /** A bearer token for /metrics, written to a file the controller reads (`--metrics-token-file`). */
  metricsToken?: string;
  /** The host of the public URL users and agents dial (default: listenHost, or 127.0.0.1 for a wildcard). */
  publicHost?: string;
  /** Extra environment for the controller (e.g. ZTKA_KUBE_TOKEN_TTL_SECONDS). */
  env?: Record<string, string>;
  /**
   * The first admin's password; random unless given. Replicas sharing one database share the admin, so a
   * second replica is started with the first one's.
   */
  adminPassword?: string;
  /**
   * The URL users and agents dial when it is not the controller's own listener: a load balancer's
   * (`startHaproxy`). The controller's certificate names its host too; the start is still awaited on the
   * listener itself (`Ztka.listenUrl`), since the balancer may be started only once the controller's port
   * is known.
   */
  publicUrl?: string;
  /** Further controller flags, e.g. `['--proxy-protocol-from', '127.0.0.4']`. */
  args?: readonly string[];
  /**
   * A serving certificate of the caller's (PEM files) instead of the controller's own CA: replicas behind one
   * load balancer serve one certificate.
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export interface AgentOptions {
  /** A command prefix the agent runs under, e.g. `['ip', 'netns', 'exec', name]` to run it in a namespace. */
  netnsExec?: readonly string[];
  /**
   * Where the agent keeps people's service accounts. Tests share one cluster, so each agent gets a
   * namespace of its own (`ztka-jit-<random>`) unless told otherwise; `stop()` deletes it.
   */
  jitNamespace?: string;
  /** How often the agent sweeps expired service accounts (default 1 s in tests). */
  sweepIntervalMs?: number;
  /** The tunnel's transport (the agent's default, h2, unless told). */
  transport?: 'h2' | 'websocket';
  /** HTTP/1.1 to the apiserver instead of the default HTTP/2. */
  apiserverHttp1?: boolean;
}

export class Ztka {
  private readonly agents = new Map<string, Proc>();
  /** Each agent's JIT namespace and the kubeconfig of its cluster, for cleanup. */
  readonly jitNamespaces = new Map<string, { namespace: string; kubeconfig: string }>();

  private constructor(
    /** What users and agents dial: the public URL. */
    readonly url: string,
    /** The controller's own listener; `url` too unless started with a `publicUrl` of another address. */
    readonly listenUrl: string,
    readonly caFile: string,
    readonly ca: string,
    /** The first admin's password (from ZTKA_ADMIN_PASSWORD). */
    readonly adminPassword: string,
    /** An API key of the first admin, from a CLI login. */
    readonly adminKey: string,
    readonly dir: string,
    private controller: Proc,
    private readonly controllerArgs: string[],
    private readonly controllerEnv: Record<string, string>,
  ) {}

  /** Starts a controller with a fresh data directory, on a free loopback port unless `opts` say otherwise. */
  static async start(opts: StartOptions = {}): Promise<Ztka> {
    const listenHost = opts.listenHost ?? '127.0.0.1';
    const wildcard = listenHost === '0.0.0.0' || listenHost === '::';
    const publicHost = opts.publicHost ?? (wildcard ? '127.0.0.1' : listenHost);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-e2e-'));
    const port = await freePort(listenHost);
    const bracket = (h: string) => (h.includes(':') ? `[${h}]` : h);
    const listenUrl = `https://${bracket(publicHost)}:${port}`;
    const url = opts.publicUrl ?? listenUrl;
    const adminPassword = opts.adminPassword ?? randomBytes(18).toString('base64url');
    const metricsTokenFile = path.join(dir, 'metrics-token');
    if (opts.metricsToken !== undefined)
      await fs.writeFile(metricsTokenFile, opts.metricsToken, { mode: 0o600 });
    const ping = opts.agentPingIntervalMs === undefined ? 1000 : opts.agentPingIntervalMs;
    const args = [
      controllerMain,
      '--data-dir',
      path.join(dir, 'controller'),
      '--listen',
      // Unbracketed even for IPv6: the controller splits at the last colon and does not strip brackets.
      `${listenHost}:${port}`,
      '--public-url',
      url,
      '--log-level',
      'warn',
      ...(ping === null ? [] : ['--agent-ping-interval-ms', String(ping)]),
      ...(opts.metricsToken === undefined ? [] : ['--metrics-token-file', metricsTokenFile]),
      ...(opts.tls
        ? [
            '--tls-cert-file',
            opts.tls.certFile,
            '--tls-key-file',
            opts.tls.keyFile,
            '--tls-ca-file',
            opts.tls.caFile,
          ]
        : []),
      ...(opts.args ?? []),
    ];
    const controller = Ztka.spawnController(args, adminPassword, opts.env ?? {});
    const caFile = opts.tls?.caFile ?? path.join(dir, 'controller', 'tls', 'ca.crt');
    for (let i = 0; ; i++) {
      const ca = await fs.readFile(caFile, 'utf8').catch(() => '');
      if (ca && (await healthy(listenUrl, ca))) {
        const adminKey = await loginApiKey({ url: listenUrl, ca }, 'admin', adminPassword);
        return new Ztka(
          url,
          listenUrl,
          caFile,
          ca,
          adminPassword,
          adminKey,
          dir,
          controller,
          args,
          opts.env ?? {},
        );
      }
      if (controller.child.exitCode !== null || i > 200) {
        throw new Error(`the controller did not start:\n${controller.output}`);
      }
      await sleep(100);
    }
  }

  private static spawnController(args: string[], adminPassword: string, env: Record<string, string>): Proc {
    return new Proc(
      spawn(process.execPath, [...profileArgs(), ...args], {
        env: { ...process.env, ...env, ZTKA_ADMIN_PASSWORD: adminPassword },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  }

  /** A JSON request to the controller's API, as the first admin unless `token` says otherwise. */
  api<T = unknown>(
    method: string,
    uri: string,
    body?: unknown,
    token: string | null = this.adminKey,
  ): Promise<ApiResponse<T>> {
    return controllerRequest<T>({ url: this.url, ca: this.ca, token }, method, uri, body);
  }

  /** Registers `cluster` and runs a real agent for it against the test control plane. */
  async connectCluster(
    cluster: string,
    kubeconfig: string,
    project = 'desktop',
    opts: AgentOptions = {},
  ): Promise<void> {
    const project_ = await this.api('POST', '/v1/projects', { name: project });
    if (project_.status !== 201 && project_.status !== 409)
      throw new Error(`creating project ${project}: ${project_.status} ${JSON.stringify(project_.body)}`);
    const created = await this.api<{ bootstrapToken: { token: string } }>('POST', '/v1/clusters', {
      name: cluster,
      project,
    });
    if (created.status !== 201)
      throw new Error(`creating cluster ${cluster}: ${created.status} ${JSON.stringify(created.body)}`);
    await this.startAgent(cluster, kubeconfig, created.body.bootstrapToken.token, opts);
    await this.waitForConnected(cluster, true);
  }

  async startAgent(
    cluster: string,
    kubeconfig: string,
    bootstrapToken?: string,
    opts: AgentOptions = {},
  ): Promise<void> {
    // A restarted agent keeps its namespace: its service accounts must survive the restart.
    const jitNamespace =
      opts.jitNamespace ??
      this.jitNamespaces.get(cluster)?.namespace ??
      `ztka-jit-${randomBytes(4).toString('hex')}`;
    this.jitNamespaces.set(cluster, { namespace: jitNamespace, kubeconfig });
    const args = [
      agentMain,
      '--controller-url',
      this.url,
      '--ca-file',
      this.caFile,
      '--kubeconfig',
      kubeconfig,
      '--credential-file',
      path.join(this.dir, `agent-${cluster}`, 'credential'),
      '--log-level',
      'warn',
      '--jit-namespace',
      jitNamespace,
      '--sweep-interval-ms',
      String(opts.sweepIntervalMs ?? 1000),
      ...(bootstrapToken ? ['--bootstrap-token', bootstrapToken] : []),
      ...(opts.transport ? ['--transport', opts.transport] : []),
      ...(opts.apiserverHttp1 ? ['--apiserver-http1'] : []),
    ];
    const [command, ...argv] = [...(opts.netnsExec ?? []), process.execPath, ...profileArgs(), ...args] as [
      string,
      ...string[],
    ];
    this.agents.set(cluster, new Proc(spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })));
  }

  /**
   * Runs an agent for `cluster` with exactly these arguments and environment, as a Deployment would (a
   * chart's, say); stopAgent, agentOutput and stop() treat it as any other. The caller registers it.
   */
  runAgent(cluster: string, args: readonly string[], env: Record<string, string> = {}): void {
    const child = spawn(process.execPath, [...profileArgs(), agentMain, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.agents.set(cluster, new Proc(child));
  }

  async stopAgent(cluster: string): Promise<void> {
    await this.agents.get(cluster)?.stop();
    this.agents.delete(cluster);
  }

  /** Process ids of the controller and of each agent, for resource measurements. */
  pids(): { controller: number | undefined; agents: Record<string, number | undefined> } {
    return {
      controller: this.controller.child.pid,
      agents: Object.fromEntries([...this.agents].map(([name, p]) => [name, p.child.pid])),
    };
  }

  /**
   * Freezes a cluster's agent (SIGSTOP), as a hung process or a black-holed link would leave it: its
   * connection stays open and says nothing. `thawAgent` lets it run on.
   */
  freezeAgent(cluster: string): void {
    this.signalAgent(cluster, 'SIGSTOP');
  }

  thawAgent(cluster: string): void {
    this.signalAgent(cluster, 'SIGCONT');
  }

  private signalAgent(cluster: string, signal: NodeJS.Signals): void {
    const child = this.agents.get(cluster)?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null)
      throw new Error(`no agent of cluster ${cluster} is running`);
    child.kill(signal);
  }

  /** What the controller has printed so far (warnings and errors at the tests' log level). */
  controllerOutput(): string {
    return this.controller.output;
  }

  agentOutput(cluster: string): string {
    return this.agents.get(cluster)?.output ?? '';
  }

  async waitForConnected(cluster: string, connected: boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.api<{ connected?: boolean }>('GET', `/v1/clusters/${cluster}`).catch(
        () => undefined,
      );
      if (res?.status === 200 && res.body.connected === connected) return;
      if (Date.now() > deadline) {
        throw new Error(
          `cluster ${cluster} not ${connected ? 'connected' : 'disconnected'}; agent said:\n${this.agentOutput(cluster)}`,
        );
      }
      await sleep(100);
    }
  }

  /**
   * Downloads a kubeconfig for `cluster` with an API key (the first admin's unless given) into a file and
   * returns its path; `exec` asks for the `ztka token` variant.
   */
  async kubeconfig(cluster: string, apiKey = this.adminKey, opts: { exec?: boolean } = {}): Promise<string> {
    const file = path.join(this.dir, `${cluster}-${randomBytes(3).toString('hex')}.kubeconfig`);
    const yaml = await downloadKubeconfig(
      { url: this.url, ca: this.ca, token: apiKey },
      { cluster, ...opts },
    );
    await fs.writeFile(file, yaml, { mode: 0o600 });
    return file;
  }

  /**
   * A kube credential (the token of a fresh kubeconfig) for `cluster`, or for every cluster the user can
   * reach when none is named; as the first admin unless another API key is given.
   */
  async kubeToken(cluster?: string, apiKey = this.adminKey): Promise<string> {
    const body = cluster === undefined ? {} : { cluster };
    return kubeconfigToken(await downloadKubeconfig({ url: this.url, ca: this.ca, token: apiKey }, body));
  }

  /**
   * Creates a user with a password and the given role assignments, logs them in as the CLI does and
   * returns their API key.
   */
  async createUser(
    username: string,
    roles: { role: string; project?: string; namespaces?: string[] }[] = [],
  ): Promise<{ username: string; password: string; apiKey: string }> {
    const password = randomBytes(12).toString('base64url');
    const created = await this.api('POST', '/v1/users', { username, password });
    if (created.status !== 201)
      throw new Error(`creating ${username}: ${created.status} ${JSON.stringify(created.body)}`);
    for (const r of roles) {
      const res = await this.api('POST', '/v1/role-assignments', { user: username, ...r });
      if (res.status !== 201)
        throw new Error(`assigning ${r.role} to ${username}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return {
      username,
      password,
      apiKey: await loginApiKey({ url: this.url, ca: this.ca }, username, password),
    };
  }

  /** The controller process's pid (an attacker's target: its /proc entry holds its environment). */
  get controllerPid(): number {
    return this.controller.child.pid ?? 0;
  }

  /** Kills the controller outright (SIGKILL), as a crash would; restartController() brings it back. */
  async killController(): Promise<void> {
    this.controller.child.kill('SIGKILL');
    await this.controller.exited;
  }

  /** Stops the controller cleanly (SIGTERM), e.g. to change its database; restartController() brings it back. */
  async stopController(): Promise<void> {
    await this.controller.stop();
  }

  async restartController(): Promise<void> {
    await this.controller.stop();
    this.controller = Ztka.spawnController(this.controllerArgs, this.adminPassword, this.controllerEnv);
    for (let i = 0; !(await healthy(this.listenUrl, this.ca)); i++) {
      if (i > 200) throw new Error(`the controller did not restart:\n${this.controller.output}`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.stop()));
    await this.controller.stop();
    // What the agents made in their clusters: the JIT namespaces and the cluster-wide bindings.
    await Promise.all(
      [...this.jitNamespaces.values()].map(async ({ namespace, kubeconfig }) => {
        const run = (args: string[]) =>
          kubectl(args, { kubeconfig, timeoutMs: 20_000 }).catch(() => undefined);
        await run([
          'delete',
          'clusterrolebinding',
          '-l',
          `ztka.dev/jit-namespace=${namespace}`,
          '--wait=false',
        ]);
        await run([
          'delete',
          'rolebinding',
          '-A',
          '-l',
          `ztka.dev/jit-namespace=${namespace}`,
          '--wait=false',
        ]);
        await run(['delete', 'namespace', namespace, '--ignore-not-found', '--wait=false']);
      }),
    );
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

function healthy(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    https
      .get(`${url}/healthz`, { ca, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      })
      .on('error', () => resolve(false));
  });
}

/** `ZTKA_PROFILE_DIR=/some/dir`: the controller and agents write V8 CPU profiles there when they exit
 * (open them in Chrome DevTools). NODE_OPTIONS cannot carry --cpu-prof, so the harness passes it. */
function profileArgs(): string[] {
  const dir = process.env['ZTKA_PROFILE_DIR'];
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}
