import fs from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';

/** Annotation that tells kwok a node is its to simulate. */
export const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

/** Kinds whose per-pod objects the test helper creates; kwok watches them as CRDs. */
export const KWOK_CRDS = ['Exec', 'Logs', 'Attach', 'PortForward'] as const;

const API = 'kwok.x-k8s.io/v1alpha1';

/**
 * Environment of every command kwok runs for `kubectl exec`. kwok 0.8 never closes a command's stdin when
 * the client's stdin ends, so a reader that waits for EOF waits forever. `kubectl cp` into a pod runs
 * `tar -x` on stdin; one-block records make tar stop at the archive's end marker instead of waiting to
 * fill a 10 KiB record.
 */
const EXEC_ENV = [{ name: 'TAR_OPTIONS', value: '--blocking-factor=1' }];

/**
 * kwok's configuration: the node and pod lifecycle stages published with kwok (copied into the binary cache
 * by build.sh), and cluster-wide defaults so that exec, logs and attach work on any pod even before a test
 * gives it a sandbox of its own.
 */
export async function kwokConfig(assetsDir: string, podsDir: string): Promise<string> {
  const stageDir = path.join(assetsDir, 'stages');
  const stageFiles = (await fs.readdir(stageDir)).filter((f) => f.endsWith('.yaml')).sort();
  const stages = await Promise.all(stageFiles.map((f) => fs.readFile(path.join(stageDir, f), 'utf8')));
  const sharedDir = path.join(podsDir, '_shared');
  await fs.mkdir(sharedDir, { recursive: true });
  const sharedLog = path.join(sharedDir, 'container.log');
  await fs.appendFile(sharedLog, '');
  const defaults = [
    {
      apiVersion: API,
      kind: 'ClusterExec',
      metadata: { name: 'default' },
      spec: { execs: [{ local: { workDir: sharedDir, envs: EXEC_ENV } }] },
    },
    {
      apiVersion: API,
      kind: 'ClusterLogs',
      metadata: { name: 'default' },
      spec: { logs: [{ logsFile: sharedLog, follow: true }] },
    },
    {
      apiVersion: API,
      kind: 'ClusterAttach',
      metadata: { name: 'default' },
      spec: { attaches: [{ logsFile: sharedLog }] },
    },
  ];
  return [...stages.map((s) => s.trim()), ...defaults.map((d) => stringify(d).trim())].join('\n---\n') + '\n';
}

/** Fake nodes for kwok to keep Ready; no taints, so ordinary workloads schedule onto them. */
export function nodesManifest(count: number): string {
  const nodes = Array.from({ length: count }, (_, i) => {
    const name = `kwok-node-${i}`;
    const resources = { cpu: '32', memory: '256Gi', pods: '110' };
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          type: 'kwok',
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'node-role.kubernetes.io/agent': '',
        },
      },
      status: { allocatable: resources, capacity: resources },
    };
  });
  return nodes.map((n) => stringify(n)).join('---\n');
}

/** Where a sandboxed pod's commands run and its container log lives. */
export interface PodSandbox {
  workDir: string;
  logsFile: string;
}

export interface PortForwardRule {
  /** The pod's port that kubectl port-forward names. */
  podPort: number;
  /** A local listener the connection is relayed to. */
  target: { address: string; port: number };
}

/**
 * kwok objects that give one pod its own working directory for exec and cp, its own log file for logs and
 * attach, and optional port-forward targets.
 */
export function podSandboxManifest(
  namespace: string,
  pod: string,
  sandbox: PodSandbox,
  forwards: readonly PortForwardRule[] = [],
): string {
  const metadata = { name: pod, namespace };
  const docs: object[] = [
    {
      apiVersion: API,
      kind: 'Exec',
      metadata,
      spec: { execs: [{ local: { workDir: sandbox.workDir, envs: EXEC_ENV } }] },
    },
    {
      apiVersion: API,
      kind: 'Logs',
      metadata,
      spec: { logs: [{ logsFile: sandbox.logsFile, follow: true }] },
    },
    { apiVersion: API, kind: 'Attach', metadata, spec: { attaches: [{ logsFile: sandbox.logsFile }] } },
  ];
  if (forwards.length > 0) {
    docs.push({
      apiVersion: API,
      kind: 'PortForward',
      metadata,
      spec: { forwards: forwards.map((f) => ({ ports: [f.podPort], target: f.target })) },
    });
  }
  return docs.map((d) => stringify(d)).join('---\n');
}
