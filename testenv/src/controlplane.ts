import fs from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBinaries } from './binaries.js';
import { renderKubeconfig } from './kubeconfig.js';
import { kubectl } from './kubectl.js';
import { KWOK_CRDS, KWOK_NODE_ANNOTATION, kwokConfig, nodesManifest } from './kwok.js';
import { createPki, type Pki } from './pki.js';
import { freePort } from './ports.js';
import { isOurs, logTail, startComponent, stopComponent } from './processes.js';
import { stateDir } from './paths.js';
import { readState, writeState, type ComponentState, type EnvState } from './state.js';

export interface UpOptions {
  /** Progress lines for a person watching; silent when omitted. */
  log?: (line: string) => void;
  /** Fake nodes to create; at least two so scheduling spreads and node-scoped tests have a choice. */
  nodes?: number;
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  # Heartbeats and events would drown the requests tests look for.
  - level: None
    resources:
      - group: coordination.k8s.io
        resources: ["leases"]
      - group: ""
        resources: ["events"]
      - group: events.k8s.io
        resources: ["events"]
  - level: Metadata
`;

/**
 * Brings the control plane up, or returns the running one. A half-dead environment (a process gone, the
 * apiserver not answering) is stopped and started afresh rather than patched.
 */
export async function up(opts: UpOptions = {}): Promise<EnvState> {
  const log = opts.log ?? (() => {});
  const dir = stateDir();
  const existing = await readState(dir);
  if (existing) {
    if (existing.components.every(isOurs) && (await apiserverReady(existing))) {
      log(`already running (started ${existing.startedAt})`);
      return existing;
    }
    log('found a stopped or broken environment; cleaning it up');
    await down();
  }

  const binDir = await ensureBinaries();
  const started = Date.now();
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(path.join(dir, 'logs'), { recursive: true });
  const podsDir = path.join(dir, 'pods');
  await fs.mkdir(podsDir, { recursive: true });

  log('creating certificates');
  const pkiDir = path.join(dir, 'pki');
  const pki = await createPki(pkiDir);
  const [etcdPort, etcdPeerPort, apiPort, kubeletPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const state: EnvState = {
    version: 1,
    startedAt: new Date().toISOString(),
    binDir,
    kubeconfig: path.join(dir, 'admin.kubeconfig'),
    apiserverUrl: `https://127.0.0.1:${apiPort}`,
    kubeletPort,
    pkiDir,
    auditLog: path.join(dir, 'audit', 'audit.log'),
    podsDir,
    components: [],
  };
  // Recorded before each start, so `down` can stop whatever did start if a later step fails.
  const start = async (name: string, args: string[]): Promise<ComponentState> => {
    const component = startComponent(
      name,
      path.join(binDir, name),
      args,
      path.join(dir, 'logs', `${name}.log`),
      dir,
    );
    state.components.push(component);
    await writeState(dir, state);
    return component;
  };

  try {
    log('starting etcd');
    const etcd = await start('etcd', etcdArgs(dir, etcdPort, etcdPeerPort));
    await waitFor('etcd to be healthy', etcd, () => etcdHealthy(etcdPort));

    log('starting kube-apiserver');
    await fs.mkdir(path.dirname(state.auditLog), { recursive: true });
    await fs.writeFile(path.join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
    const apiserver = await start(
      'kube-apiserver',
      apiserverArgs(dir, pki, etcdPort, apiPort, state.auditLog),
    );
    await fs.writeFile(
      state.kubeconfig,
      await renderKubeconfig({
        name: 'ztka-testenv',
        server: state.apiserverUrl,
        caCert: pki.caCert,
        credential: { clientCert: pki.adminCert, clientKey: pki.adminKey },
      }),
      { mode: 0o600 },
    );
    await waitFor('kube-apiserver to be ready', apiserver, () => apiserverReady(state), 120_000);

    log('installing kwok resources and starting controller-manager, scheduler and kwok');
    const assets = path.join(binDir, 'kwok-assets');
    await kubectl(['apply', '-f', path.join(assets, 'crds')], { kubeconfig: state.kubeconfig });
    const kwokConf = path.join(dir, 'kwok.yaml');
    await fs.writeFile(kwokConf, await kwokConfig(assets, podsDir));
    await start('kube-controller-manager', controllerManagerArgs(state.kubeconfig, pki));
    await start('kube-scheduler', [
      '--kubeconfig',
      state.kubeconfig,
      '--leader-elect=false',
      '--secure-port=0',
    ]);
    const kwok = await start('kwok', kwokArgs(state.kubeconfig, kwokConf, pki, kubeletPort));

    const nodes = Math.max(2, opts.nodes ?? 2);
    log(`creating ${nodes} kwok nodes`);
    await kubectl(['apply', '-f', '-'], { kubeconfig: state.kubeconfig, input: nodesManifest(nodes) });
    await waitFor(
      'kwok nodes to be Ready',
      kwok,
      () => readyNodes(state.kubeconfig).then((n) => n >= nodes),
      120_000,
    );
    await waitFor('the default service account', kwok, () => defaultServiceAccount(state.kubeconfig), 60_000);
  } catch (err) {
    await down();
    throw err;
  }
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return state;
}

/** Stops every process `up` started (matched by pid and binary) and removes the state directory. */
export async function down(): Promise<{ stopped: string[] }> {
  const dir = stateDir();
  const state = await readState(dir);
  const stopped: string[] = [];
  if (state) {
    // Reverse start order: kwok and the controllers first, etcd last, so nothing logs a storm of errors.
    for (const component of [...state.components].reverse()) {
      if (isOurs(component)) {
        await stopComponent(component);
        stopped.push(component.name);
      }
    }
  }
  await fs.rm(dir, { recursive: true, force: true });
  return { stopped };
}

export interface ComponentStatus {
  name: string;
  pid: number;
  running: boolean;
}

export interface Status {
  state?: EnvState;
  components: ComponentStatus[];
  apiserverReady: boolean;
}

export async function status(): Promise<Status> {
  const state = await readState(stateDir());
  if (!state) return { components: [], apiserverReady: false };
  return {
    state,
    components: state.components.map((c) => ({ name: c.name, pid: c.pid, running: isOurs(c) })),
    apiserverReady: await apiserverReady(state),
  };
}

function etcdArgs(dir: string, port: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=testenv',
    `--data-dir=${path.join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=testenv=${peer}`,
    // A throwaway test store: durability across power loss buys nothing and fsync costs seconds per test.
    '--unsafe-no-fsync',
    '--quota-backend-bytes=4294967296',
  ];
}

function apiserverArgs(dir: string, pki: Pki, etcdPort: number, port: number, auditLog: string): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=Node,RBAC',
    '--allow-privileged=true',
    // The apiserver's own address is loopback, which may not appear in the kubernetes Endpoints.
    '--endpoint-reconciler-type=none',
    // exec, logs, attach and port-forward reach kwok, which plays every node's kubelet.
    `--kubelet-client-certificate=${pki.adminCert}`,
    `--kubelet-client-key=${pki.adminKey}`,
    '--kubelet-preferred-address-types=InternalIP',
    `--audit-policy-file=${path.join(dir, 'audit-policy.yaml')}`,
    `--audit-log-path=${auditLog}`,
    '--audit-log-format=json',
    '--audit-log-maxsize=200',
    '--audit-log-maxbackup=1',
    '--profiling=false',
  ];
}

function controllerManagerArgs(kubeconfig: string, pki: Pki): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--secure-port=0',
    `--root-ca-file=${pki.caCert}`,
    `--service-account-private-key-file=${pki.saKey}`,
    `--cluster-signing-cert-file=${pki.caCert}`,
    `--cluster-signing-key-file=${pki.caKey}`,
  ];
}

function kwokArgs(kubeconfig: string, config: string, pki: Pki, kubeletPort: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${config}`,
    '--manage-all-nodes=false',
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
    '--node-ip=127.0.0.1',
    `--node-port=${kubeletPort}`,
    `--server-address=127.0.0.1:${kubeletPort}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--enable-crds=${KWOK_CRDS.join(',')}`,
    '--cidr=10.244.0.0/16',
    '--node-lease-duration-seconds=40',
  ];
}

/** Polls `check` until it holds, failing at once (with the log's tail) if `component` has exited. */
async function waitFor(
  what: string,
  component: ComponentState,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isOurs(component)) {
      throw new Error(
        `${component.name} exited while waiting for ${what}; its log ends:\n${logTail(component.log)}`,
      );
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}; ${component.name}'s log ends:\n${logTail(component.log)}`,
      );
    }
    await sleep(250);
  }
}

function etcdHealthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/health', timeout: 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
      })
      .on('error', () => resolve(false))
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy();
      });
  });
}

/** GET /readyz with the admin certificate. */
export async function apiserverReady(state: EnvState): Promise<boolean> {
  const read = (f: string) => fs.readFile(path.join(state.pkiDir, f));
  let tls: { ca: Buffer; cert: Buffer; key: Buffer };
  try {
    const [ca, cert, key] = await Promise.all([read('ca.crt'), read('admin.crt'), read('admin.key')]);
    tls = { ca, cert, key };
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    https
      .get(`${state.apiserverUrl}/readyz`, { ...tls, timeout: 2000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      })
      .on('error', () => resolve(false))
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy();
      });
  });
}

async function readyNodes(kubeconfig: string): Promise<number> {
  const { stdout } = await kubectl(
    [
      'get',
      'nodes',
      '-l',
      'type=kwok',
      '-o',
      'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ],
    { kubeconfig },
  );
  return stdout.split('\n').filter((s) => s === 'True').length;
}

async function defaultServiceAccount(kubeconfig: string): Promise<boolean> {
  await kubectl(['get', 'serviceaccount', 'default', '-n', 'default'], { kubeconfig });
  return true;
}
