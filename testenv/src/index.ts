// Test helper: integration tests call testEnv() to get the real control plane (started once, then reused by
// every test process) and namespace() to get a namespace of their own that is deleted afterwards.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiserverReady, up } from './controlplane.js';
import { renderKubeconfig } from './kubeconfig.js';
import { kubectl } from './kubectl.js';
import { podSandboxManifest, type PodSandbox, type PortForwardRule } from './kwok.js';
import { withLock } from './lock.js';
import { stateDir } from './paths.js';
import { readState, type EnvState } from './state.js';

export { down, status, up } from './controlplane.js';
export {
  KUBECTL_VERSIONS,
  KubectlError,
  kubectl,
  kubectlEnv,
  kubectlPath,
  startKubectl,
  waitForOutput,
} from './kubectl.js';
export { selfSignedCert } from './certs.js';
export { ensureBinaries, ensureHelm, ensureRemotedialerPeer, type BuildTarget } from './binaries.js';
export { HelmError, helm, type HelmOptions, type HelmResult } from './helm.js';
export { ensureDebianPackages } from './debian.js';
export { renderKubeconfig, type Credential, type KubeconfigSpec } from './kubeconfig.js';
export { canListen, freePort } from './ports.js';
export { repoRoot as repoRootPath } from './paths.js';
export { Ztka, type AgentOptions, type StartOptions } from './ztka.js';
export { ZtkaCli, ztkaBinDir, ztkaMain, type CliResult } from './ztka-cli.js';
export {
  controllerRequest,
  downloadKubeconfig,
  kubeconfigToken,
  loginApiKey,
  type ApiResponse,
} from './controller-client.js';
export type { KubectlOptions, KubectlResult, KubectlVersion } from './kubectl.js';
export type { PodSandbox, PortForwardRule } from './kwok.js';
export type { EnvState } from './state.js';

export interface TestEnv extends EnvState {
  /** Runs kubectl as the cluster admin. */
  admin(args: readonly string[], input?: string): Promise<string>;
}

let cached: Promise<TestEnv> | undefined;

/** The running control plane, started under a lock if no test process has started it yet. */
export function testEnv(): Promise<TestEnv> {
  cached ??= (async () => {
    const dir = stateDir();
    let state = await readState(dir);
    if (!state || !(await apiserverReady(state))) {
      state = await withLock(`${dir}.lock`, () => up({ log: (l) => console.error(`testenv: ${l}`) }));
    }
    const kubeconfig = state.kubeconfig;
    return {
      ...state,
      admin: async (args, input) =>
        (await kubectl(args, { kubeconfig, ...(input === undefined ? {} : { input }) })).stdout,
    };
  })();
  return cached;
}

/**
 * Takes the lock on what the bootstrap manifest puts in the cluster (namespace ztka-system, the agent's
 * ClusterRole and ClusterRoleBinding), which every test that applies the manifest shares; it is held until
 * the returned function is called, or the process exits.
 */
export async function lockBootstrapManifest(): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let acquired!: () => void;
  const held = new Promise<void>((resolve) => (acquired = resolve));
  const done = withLock(`${stateDir()}.manifest.lock`, async () => {
    acquired();
    await released;
  });
  await Promise.race([held, done]);
  return async () => {
    release();
    await done;
  };
}

export interface TestNamespace {
  name: string;
  /** Deletes the namespace without waiting for its finalizers. */
  cleanup(): Promise<void>;
}

/**
 * Creates a uniquely named namespace and waits for its default service account, which pods need before
 * the admission plugin lets them in.
 */
export async function namespace(env: TestEnv, prefix = 'test'): Promise<TestNamespace> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await env.admin(['create', 'namespace', name]);
  for (let i = 0; ; i++) {
    try {
      await env.admin(['get', 'serviceaccount', 'default', '-n', name]);
      break;
    } catch (err) {
      if (i > 100) throw err;
      await sleep(100);
    }
  }
  return {
    name,
    cleanup: async () => {
      await env.admin(['delete', 'namespace', name, '--wait=false']);
      await fs.rm(path.join(env.podsDir, name), { recursive: true, force: true });
    },
  };
}

/**
 * Writes a kubeconfig to `file` that acts as service account `account` of namespace `ns` of the test
 * cluster: a TokenRequest token, the kind a pod of that account has mounted, valid for `duration`.
 */
export async function serviceAccountKubeconfig(
  env: TestEnv,
  ns: string,
  account: string,
  file: string,
  duration = '1h',
): Promise<string> {
  const token = (await env.admin(['create', 'token', account, '-n', ns, `--duration=${duration}`])).trim();
  const kubeconfig = await renderKubeconfig({
    name: account,
    server: env.apiserverUrl,
    caCert: path.join(env.pkiDir, 'ca.crt'),
    credential: { token },
  });
  await fs.writeFile(file, kubeconfig, { mode: 0o600 });
  return file;
}

/**
 * Gives a pod its own working directory (where `kubectl exec` runs commands and `kubectl cp` reads and
 * writes) and its own log file (what `kubectl logs` and `attach` show), plus optional port-forward targets.
 * The pod need not exist yet.
 */
export async function podSandbox(
  env: TestEnv,
  ns: string,
  pod: string,
  forwards: readonly PortForwardRule[] = [],
): Promise<PodSandbox> {
  const workDir = path.join(env.podsDir, ns, pod);
  await fs.mkdir(workDir, { recursive: true });
  const sandbox = { workDir, logsFile: path.join(workDir, '..', `${pod}.log`) };
  await fs.appendFile(sandbox.logsFile, '');
  await env.admin(['apply', '-f', '-'], podSandboxManifest(ns, pod, sandbox, forwards));
  return sandbox;
}

/** Creates a bare pod on a kwok node and waits until it is Running. */
export async function runningPod(env: TestEnv, ns: string, name: string): Promise<void> {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      containers: [{ name: 'main', image: 'registry.invalid/fake:1', ports: [{ containerPort: 8080 }] }],
    },
  };
  await env.admin(['apply', '-f', '-'], JSON.stringify(pod));
  await env.admin([
    'wait',
    '--for=jsonpath={.status.phase}=Running',
    `pod/${name}`,
    '-n',
    ns,
    '--timeout=60s',
  ]);
}

/**
 * Appends lines to a sandboxed pod's container log in the CRI format (`<RFC3339Nano> <stream> F <text>`) that
 * kwok, like the kubelet, reads for `kubectl logs` and `attach`.
 */
export async function writeContainerLog(
  sandbox: PodSandbox,
  lines: readonly string[],
  stream: 'stdout' | 'stderr' = 'stdout',
) {
  const now = new Date().toISOString().replace('Z', '000000Z');
  await fs.appendFile(sandbox.logsFile, lines.map((l) => `${now} ${stream} F ${l}\n`).join(''));
}

export { startPostgres, type PostgresServer, type StartPostgresOptions } from './postgres.js';
export {
  startOidcProvider,
  type OidcClient,
  type OidcGrantType,
  type OidcProviderHandle,
  type OidcProviderOptions,
  type OidcUser,
  type StartOidcProviderOptions,
} from './oidc-provider.js';
export { launchChromium, CHROMIUM } from './browser.js';
export {
  HAPROXY,
  startHaproxy,
  type BackendState,
  type HaproxyServer,
  type StartHaproxyOptions,
} from './haproxy.js';
export { startReplicas, type ReplicaSet, type ReplicaSetOptions } from './replicas.js';
