// Proves the test control plane is a real Kubernetes: the shared kubectl suite run straight at the
// apiserver, and real RBAC on a TokenRequest token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubectlError } from '@ztka/testenv';
import {
  kubectl,
  namespace,
  serviceAccountKubeconfig,
  testEnv,
  type TestEnv,
  type TestNamespace,
} from '@ztka/testenv';
import { kubectlSuite } from './support/kubectl-suite.js';

kubectlSuite('real control plane', ['1.27', '1.33'], async (env) => ({
  kubeconfig: env.kubeconfig,
  prefix: 'cp',
}));

describe('real RBAC', () => {
  const version = '1.33';
  let env: TestEnv;
  let ns: TestNamespace;
  let tmp: string;
  const k = (args: readonly string[]) =>
    kubectl(['-n', ns.name, ...args], { kubeconfig: env.kubeconfig, version });

  before(async () => {
    env = await testEnv();
    ns = await namespace(env, 'rbac');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-rbac-'));
  });
  after(async () => {
    await ns?.cleanup();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test("a fresh service account's token is refused secrets until a RoleBinding allows it", async () => {
    await k(['create', 'serviceaccount', 'reader']);
    const kubeconfig = await serviceAccountKubeconfig(
      env,
      ns.name,
      'reader',
      path.join(tmp, `reader-${version}.kubeconfig`),
      '10m',
    );
    const asReader = () => kubectl(['-n', ns.name, 'get', 'secrets'], { kubeconfig, version });

    await assert.rejects(asReader(), (err: KubectlError) => {
      assert.match(err.stderr, /\(Forbidden\)/);
      assert.match(
        err.stderr,
        new RegExp(`system:serviceaccount:${ns.name}:reader" cannot list resource "secrets"`),
      );
      return true;
    });

    await k(['create', 'role', 'secret-reader', '--verb=get,list', '--resource=secrets']);
    await k([
      'create',
      'rolebinding',
      'reader-reads-secrets',
      '--role=secret-reader',
      `--serviceaccount=${ns.name}:reader`,
    ]);
    // RBAC reaches the authorizer through an informer: allow it a moment.
    for (let attempt = 0; ; attempt++) {
      try {
        await asReader();
        break;
      } catch (err) {
        if (attempt >= 50) throw err;
        await sleep(100);
      }
    }
  });
});
