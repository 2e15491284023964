import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FakeController } from './testing/fake-controller.js';
import { startFake } from './testing/fake-controller.js';
import { makeHome, type Home } from './testing/run-cli.js';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: desktop
    cluster: { server: https://ztka.example.com/k8s/clusters/desktop }
  - name: edge
    cluster: { server: https://ztka.example.com/k8s/clusters/edge }
users:
  - name: alice
    user: { token: secret-kube-credential }
contexts: []
`;

let fake: FakeController;
let home: Home;

before(async () => {
  fake = await startFake({
    'POST /v1/kubeconfig': () => ({ text: KUBECONFIG, contentType: 'application/yaml' }),
  });
  home = makeHome();
  await home.login(fake.url);
});

after(async () => {
  home.remove();
  await fake.close();
});

test('kubeconfig -f writes the file owner-only, even over a looser existing one', async () => {
  const file = path.join(home.dir, 'kubeconfig');
  await writeFile(file, 'old');
  await chmod(file, 0o644);
  const result = await home.run(['kubeconfig', '-f', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `Wrote kubeconfig for 2 cluster(s) to ${file}\n`);
  assert.equal(await readFile(file, 'utf8'), KUBECONFIG);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(fake.requests.at(-1)?.json, {});

  const fresh = path.join(home.dir, 'new-kubeconfig');
  assert.equal((await home.run(['kubeconfig', '--file', fresh])).code, 0);
  assert.equal((await stat(fresh)).mode & 0o777, 0o600);
});

test('kubeconfig without -f prints the YAML and passes --cluster and --exec', async () => {
  const result = await home.run(['kubeconfig', '--cluster', 'desktop', '--exec']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, KUBECONFIG);
  const req = fake.requests.at(-1);
  assert.deepEqual(req?.json, { cluster: 'desktop', exec: true });
  assert.equal(req?.headers.accept, 'application/yaml');
});
