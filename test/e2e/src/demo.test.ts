// `npm run demo` end to end: it must come up with a cluster reachable through the controller and the
// agent, and stop everything it started on Ctrl-C. It runs here with its own state and demo directories,
// so the control plane other tests share is untouched.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import https from 'node:https';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubectl, testEnv } from '@ztka/testenv';

const demoMain = fileURLToPath(new URL('../../../testenv/dist/demo.js', import.meta.url));
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-demo-'));
after(() => fs.rm(tmp, { recursive: true, force: true }));

test('the demo serves kubectl through the controller and stops cleanly', async () => {
  const demoDir = path.join(tmp, 'demo');
  const stateDir = path.join(tmp, 'testenv');
  let output = '';
  const demo = spawn(process.execPath, [demoMain], {
    env: { ...process.env, ZTKA_DEMO_DIR: demoDir, ZTKA_TESTENV_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout.on('data', (c: Buffer) => (output += c.toString()));
  demo.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => demo.on('exit', resolve));
  try {
    for (let i = 0; !(await fs.stat(path.join(demoDir, 'ready')).catch(() => undefined)); i++) {
      assert.ok(i < 600 && demo.exitCode === null, `the demo did not become ready:\n${output}`);
      await sleep(100);
    }
    const { stdout } = await kubectl(['get', 'ns', '-o', 'name'], {
      kubeconfig: path.join(demoDir, 'admin.kubeconfig'),
    });
    assert.ok(stdout.split('\n').includes('namespace/kube-system'), stdout);
    // Single sign-on is offered on the login page, through the demo's own OpenID Provider.
    const ca = await fs.readFile(path.join(demoDir, 'controller', 'tls', 'ca.crt'), 'utf8');
    const url = (
      JSON.parse(await fs.readFile(path.join(demoDir, 'credentials.json'), 'utf8')) as { url: string }
    ).url;
    const providers = await new Promise<string>((resolve, reject) =>
      https
        .get(`${url}/v1/auth/sso/providers`, { ca }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        })
        .on('error', reject),
    );
    assert.deepEqual(JSON.parse(providers), { items: [{ name: 'demo-idp', displayName: 'Demo IdP' }] });
    for (let i = 0; !/Log in with Demo IdP/.test(output); i++) {
      assert.ok(i < 100, `the demo does not say how to log in with single sign-on:\n${output}`);
      await sleep(100);
    }
    const creds = JSON.parse(await fs.readFile(path.join(demoDir, 'credentials.json'), 'utf8')) as Record<
      string,
      string
    >;
    assert.deepEqual(Object.keys(creds).sort(), ['password', 'url', 'username']);
    assert.match(output, /kubectl --kubeconfig .*admin\.kubeconfig get ns/);

    // The two other people of project desktop, each with the access of their role.
    const as = (name: string, args: string[]) =>
      kubectl(args, { kubeconfig: path.join(demoDir, `${name}.kubeconfig`) });
    for (const name of ['viewer', 'team-a-admin']) {
      const file = JSON.parse(
        await fs.readFile(path.join(demoDir, `${name}.credentials.json`), 'utf8'),
      ) as Record<string, string>;
      assert.deepEqual(Object.keys(file).sort(), ['password', 'url', 'username']);
      assert.equal((await fs.stat(path.join(demoDir, `${name}.kubeconfig`))).mode & 0o777, 0o600);
    }
    assert.match((await as('viewer', ['get', 'ns', '-o', 'name'])).stdout, /namespace\/team-a/);
    // The seed's check: the read-only person's first call made their service account in ztka-system,
    // bound to exactly the read-only role (asked as the cluster's own admin).
    const clusterAdmin = { kubeconfig: path.join(stateDir, 'admin.kubeconfig') };
    const sa = await kubectl(
      [
        'get',
        'sa',
        'viewer-64ztka-46local',
        '-n',
        'ztka-system',
        '-o',
        'jsonpath={.metadata.creationTimestamp}',
      ],
      clusterAdmin,
    );
    assert.ok(Date.now() - Date.parse(sa.stdout) < 120_000, sa.stdout);
    const bindings = await kubectl(
      [
        'get',
        'clusterrolebindings,rolebindings',
        '-A',
        '-l',
        'ztka.dev/service-account=viewer-64ztka-46local',
        '-o',
        'jsonpath={.items[*].roleRef.name}',
      ],
      clusterAdmin,
    );
    assert.equal(bindings.stdout, 'ztka-read-only');
    await assert.rejects(as('viewer', ['create', 'configmap', 'x', '-n', 'team-a']), /forbidden/i);
    await as('team-a-admin', ['create', 'configmap', 'from-demo', '-n', 'team-a']);
    await assert.rejects(as('team-a-admin', ['get', 'pods', '-n', 'kube-system']), /forbidden/i);
  } finally {
    demo.kill('SIGINT');
    assert.equal(await exited, 0, output);
  }
  // Everything it started is gone: the control plane's state directory is removed by `down`.
  await assert.rejects(fs.stat(path.join(stateDir, 'state.json')), { code: 'ENOENT' });
});

test('the demo registers an outside cluster given by --kubeconfig, and removes what it made there', async () => {
  // The shared test cluster plays a person's own cluster (kind, minikube, a cloud one): its kubeconfig is all
  // the demo gets, with the context named.
  const outside = await testEnv();
  const demoDir = path.join(tmp, 'outside');
  let output = '';
  const demo = spawn(
    process.execPath,
    [demoMain, '--kubeconfig', outside.kubeconfig, '--context', await currentContext(outside.kubeconfig)],
    { env: { ...process.env, ZTKA_DEMO_DIR: demoDir }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  demo.stdout.on('data', (c: Buffer) => (output += c.toString()));
  demo.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => demo.on('exit', resolve));
  const clusterAdmin = { kubeconfig: outside.kubeconfig };
  try {
    // No cluster to build: ready in seconds, not after a first build.
    for (let i = 0; !(await fs.stat(path.join(demoDir, 'ready')).catch(() => undefined)); i++) {
      assert.ok(i < 600 && demo.exitCode === null, `the demo did not become ready:\n${output}`);
      await sleep(100);
    }
    assert.doesNotMatch(output, /testenv: /, 'no local cluster was started');
    const viewer = { kubeconfig: path.join(demoDir, 'viewer.kubeconfig') };
    assert.match((await kubectl(['get', 'ns', '-o', 'name'], viewer)).stdout, /namespace\/kube-system/);
    // People's accounts live in the demo's own namespace, never in a real installation's ztka-system.
    const sa = await kubectl(
      ['get', 'sa', 'viewer-64ztka-46local', '-n', 'ztka-demo', '-o', 'name'],
      clusterAdmin,
    );
    assert.equal(sa.stdout.trim(), 'serviceaccount/viewer-64ztka-46local');
  } finally {
    demo.kill('SIGINT');
    assert.equal(await exited, 0, output);
  }
  const left = await kubectl(
    ['get', 'namespace', 'ztka-demo', '-o', 'jsonpath={.status.phase}', '--ignore-not-found'],
    clusterAdmin,
  );
  assert.ok(left.stdout === '' || left.stdout === 'Terminating', `ztka-demo is ${left.stdout}`);
  const bindings = await kubectl(
    ['get', 'clusterrolebindings', '-l', 'ztka.dev/jit-namespace=ztka-demo', '-o', 'name'],
    clusterAdmin,
  );
  assert.equal(bindings.stdout.trim(), '');
});

async function currentContext(kubeconfig: string): Promise<string> {
  return (await kubectl(['config', 'current-context'], { kubeconfig })).stdout.trim();
}
