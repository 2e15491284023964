import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { KWOK_NODE_ANNOTATION, nodesManifest, podSandboxManifest } from './kwok.js';

type Doc = {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: never;
};
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Doc);

test('nodesManifest makes the requested number of nodes, all marked for kwok and untainted', () => {
  const nodes = docs(nodesManifest(3));
  assert.deepEqual(
    nodes.map((n) => n.metadata.name),
    ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'],
  );
  for (const n of nodes) {
    assert.equal(n.kind, 'Node');
    assert.equal(n.metadata.annotations?.[KWOK_NODE_ANNOTATION], 'fake');
    assert.equal((n as { spec?: { taints?: unknown } }).spec?.taints, undefined);
  }
});

test('podSandboxManifest binds exec, logs and attach to the pod, and port-forward only when asked', () => {
  const sandbox = { workDir: '/tmp/w/ns/pod', logsFile: '/tmp/w/ns/pod.log' };
  const plain = docs(podSandboxManifest('ns', 'pod', sandbox));
  assert.deepEqual(
    plain.map((d) => d.kind),
    ['Exec', 'Logs', 'Attach'],
  );
  for (const d of plain) assert.deepEqual(d.metadata, { name: 'pod', namespace: 'ns' });
  const exec = plain[0] as unknown as {
    spec: { execs: { local: { workDir: string; envs: { name: string }[] } }[] };
  };
  assert.equal(exec.spec.execs[0]?.local.workDir, sandbox.workDir);
  assert.ok(
    exec.spec.execs[0]?.local.envs.some((e) => e.name === 'TAR_OPTIONS'),
    'kubectl cp into the pod needs TAR_OPTIONS',
  );

  const forwarded = docs(
    podSandboxManifest('ns', 'pod', sandbox, [
      { podPort: 8080, target: { address: '127.0.0.1', port: 4000 } },
    ]),
  );
  const pf = forwarded.find((d) => d.kind === 'PortForward') as unknown as {
    spec: { forwards: { ports: number[]; target: { port: number } }[] };
  };
  assert.deepEqual(pf.spec.forwards, [{ ports: [8080], target: { address: '127.0.0.1', port: 4000 } }]);
});
