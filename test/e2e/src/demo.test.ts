// `npm run demo` end to end: it must come up with a cluster reachable through the controller and the
// agent, and stop everything it started on Ctrl-C. It runs here with its own state and demo directories,
// so the control plane other tests share is untouched.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import { readFileSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { kubectl, testEnv } from '@ztka/testenv';

const demoMain = fileURLToPath(new URL('../../../testenv/dist/demo.js', import.meta.url));
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-demo-'));
after(() => fs.rm(tmp, { recursive: true, force: true }));

interface Demo {
  process: ChildProcess;
  /** Its stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
}

/** Runs the demo with `args` and `env` and returns once it has written `<demoDir>/ready`. */
async function startDemo(args: string[], demoDir: string, env: Record<string, string> = {}): Promise<Demo> {
  let output = '';
  const demo = spawn(process.execPath, [demoMain, ...args], {
    env: { ...process.env, ZTKA_DEMO_DIR: demoDir, ...env },
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
  } catch (err) {
    demo.kill('SIGINT');
    await exited;
    throw err;
  }
  return { process: demo, output: () => output, exited };
}

test('the demo serves kubectl through the controller and stops cleanly', async () => {
  const demoDir = path.join(tmp, 'demo');
  const stateDir = path.join(tmp, 'testenv');
  const demo = await startDemo([], demoDir, { ZTKA_TESTENV_DIR: stateDir });
  try {
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
    for (let i = 0; !/Log in with Demo IdP/.test(demo.output()); i++) {
      assert.ok(i < 100, `the demo does not say how to log in with single sign-on:\n${demo.output()}`);
      await sleep(100);
    }
    const creds = JSON.parse(await fs.readFile(path.join(demoDir, 'credentials.json'), 'utf8')) as Record<
      string,
      string
    >;
    assert.deepEqual(Object.keys(creds).sort(), ['password', 'url', 'username']);
    assert.match(demo.output(), /kubectl --kubeconfig .*admin\.kubeconfig get ns/);

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
    demo.process.kill('SIGINT');
    assert.equal(await demo.exited, 0, demo.output());
  }
  // Everything it started is gone: the control plane's state directory is removed by `down`.
  await assert.rejects(fs.stat(path.join(stateDir, 'state.json')), { code: 'ENOENT' });
});

test('the demo registers an outside cluster given by --kubeconfig, and removes what it made there', async () => {
  // The shared test cluster plays a person's own cluster (kind, minikube, a cloud one): its kubeconfig is all
  // the demo gets, with the context named.
  const outside = await testEnv();
  const demoDir = path.join(tmp, 'outside');
  // No cluster to build: ready in seconds, not after a first build.
  const demo = await startDemo(
    ['--kubeconfig', outside.kubeconfig, '--context', await currentContext(outside.kubeconfig)],
    demoDir,
  );
  const clusterAdmin = { kubeconfig: outside.kubeconfig };
  try {
    assert.doesNotMatch(demo.output(), /testenv: /, 'no local cluster was started');
    const viewer = { kubeconfig: path.join(demoDir, 'viewer.kubeconfig') };
    assert.match((await kubectl(['get', 'ns', '-o', 'name'], viewer)).stdout, /namespace\/kube-system/);
    // People's accounts live in the demo's own namespace, never in a real installation's ztka-system.
    const sa = await kubectl(
      ['get', 'sa', 'viewer-64ztka-46local', '-n', 'ztka-demo', '-o', 'name'],
      clusterAdmin,
    );
    assert.equal(sa.stdout.trim(), 'serviceaccount/viewer-64ztka-46local');
  } finally {
    demo.process.kill('SIGINT');
    assert.equal(await demo.exited, 0, demo.output());
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

test("the demo with --replicas 3 serves everything at the balancer's one URL and stops every process", async () => {
  const demoDir = path.join(tmp, 'replicas');
  const stateDir = path.join(tmp, 'testenv-replicas');
  const demo = await startDemo(['--replicas', '3'], demoDir, { ZTKA_TESTENV_DIR: stateDir });
  const started = new Map<number, Proc>();
  try {
    const { url } = JSON.parse(await fs.readFile(path.join(demoDir, 'credentials.json'), 'utf8')) as {
      url: string;
    };
    const replicas = [...demo.output().matchAll(/^ +(controller-\d) +(https:\/\/\S+) +pid (\d+)$/gm)].map(
      ([, name = '', replicaUrl = '', pid = '']) => ({ name, url: replicaUrl, pid: Number(pid) }),
    );
    assert.deepEqual(
      replicas.map((r) => r.name),
      ['controller-1', 'controller-2', 'controller-3'],
      demo.output(),
    );
    // The one URL printed and written is haproxy's, never a replica's.
    assert.ok(!replicas.some((r) => r.url === url), `${url} is a replica's`);
    const port = new URL(url).port;
    const { stdout: listener } = await run('ss', ['-Hltnp', `sport = :${port}`]);
    assert.match(listener, /"haproxy"/, `who listens at ${url}: ${listener}`);
    assert.match(
      demo.output(),
      new RegExp(`console: +${url.replace(/\./g, '\\.')} .*CA: \\.demo/tls/ca\\.crt`),
    );
    assert.match(demo.output(), /kill -9 <pid>/);
    await fs.access(path.join(demoDir, 'tls', 'ca.crt'));

    // kubectl through the balancer, and through each replica's own listener: every replica reaches the
    // cluster, two of them over the peer hop to the one holding the agent's tunnel.
    const admin = { kubeconfig: path.join(demoDir, 'admin.kubeconfig') };
    assert.match((await kubectl(['get', 'ns', '-o', 'name'], admin)).stdout, /namespace\/kube-system/);
    for (const replica of replicas) {
      const { stdout } = await kubectl(
        ['--server', `${replica.url}/k8s/clusters/desktop`, 'get', 'ns', 'team-a', '-o', 'name'],
        admin,
      );
      assert.equal(stdout.trim(), 'namespace/team-a', replica.name);
    }

    for (const [pid, p] of processTree(demo.process.pid ?? 0)) started.set(pid, p);
    const commands = [...started.values()].map((p) => p.command);
    for (const replica of replicas)
      assert.match(started.get(replica.pid)?.command ?? '', /controller\/dist\/main\.js/, replica.name);
    assert.ok(
      commands.some((c) => c.startsWith('/usr/sbin/haproxy')),
      commands.join('\n'),
    );
    assert.ok(
      commands.some((c) => /\/bin\/postgres /.test(c)),
      commands.join('\n'),
    );
  } finally {
    demo.process.kill('SIGTERM');
    assert.equal(await demo.exited, 0, demo.output());
  }
  // Nothing it started is left: no controller, no haproxy, no PostgreSQL, no part of the control plane.
  const now = processes();
  const left = [...started].filter(([pid, p]) => {
    const still = now.get(pid);
    return still?.startTime === p.startTime && still.state !== 'Z';
  });
  assert.deepEqual(
    left.map(([pid, p]) => `${pid} ${p.command}`),
    [],
  );
  await assert.rejects(fs.stat(path.join(stateDir, 'state.json')), { code: 'ENOENT' });
});

const run = promisify(execFile);

interface Proc {
  command: string;
  /** `R`, `S`, …; `Z` for one that exited and is not yet reaped. */
  state: string;
  /** Clock ticks after boot: tells a process from a later one given the same pid. */
  startTime: string;
}

/** Every process now, by pid, from /proc. */
function processes(): Map<number, Proc & { parent: number }> {
  const all = new Map<number, Proc & { parent: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The fields after the command name in parentheses (which may hold spaces), from the state on: the
      // parent is next, and the start time (the 22nd field of proc(5)) is at index 19.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      all.set(Number(entry), {
        command,
        state: fields[0] ?? '',
        parent: Number(fields[1]),
        startTime: fields[19] ?? '',
      });
    } catch {
      // gone meanwhile
    }
  }
  return all;
}

/** `root` and every process below it. */
function processTree(root: number): Map<number, Proc> {
  const all = processes();
  const tree = new Map<number, Proc>();
  const add = (pid: number) => {
    const p = all.get(pid);
    if (!p || tree.has(pid)) return;
    tree.set(pid, p);
    for (const [child, c] of all) if (c.parent === pid) add(child);
  };
  add(root);
  return tree;
}

async function currentContext(kubeconfig: string): Promise<string> {
  return (await kubectl(['config', 'current-context'], { kubeconfig })).stdout.trim();
}
