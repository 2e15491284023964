// The kubectl verbs every path to a cluster must carry: discovery, reads, writes, watches and the streaming
// verbs (exec, logs -f, attach, port-forward, cp), for several kubectl releases. Run directly against the
// test control plane and again through the ztka controller and agent, so both are held to the same bar.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubectlError } from '@ztka/testenv';
import {
  kubectl,
  kubectlEnv,
  kubectlPath,
  namespace,
  podSandbox,
  runningPod,
  startKubectl,
  testEnv,
  waitForOutput,
  writeContainerLog,
  type KubectlVersion,
  type PodSandbox,
  type TestEnv,
  type TestNamespace,
} from '@ztka/testenv';

/**
 * Appends `line` to the pod's log until the streaming kubectl prints it. A line written in the moment
 * between the log reader reaching the end of the file and watching it for changes is only noticed with the
 * next write (as with a real kubelet), so one write is not enough for a test that must not flake.
 */
async function writeUntilSeen(
  child: ChildProcessWithoutNullStreams,
  box: PodSandbox,
  line: string,
): Promise<void> {
  const seen = waitForOutput(child, new RegExp(line));
  let done = false;
  const settled = seen.finally(() => (done = true));
  for (let i = 0; i < 100 && !done; i++) {
    await writeContainerLog(box, [line]);
    await Promise.race([settled.catch(() => {}), sleep(300)]);
  }
  await seen;
}

export interface SuiteTarget {
  /** Kubeconfig the kubectl under test uses. */
  kubeconfig: string;
  /** Namespace name prefix, to tell runs apart in the cluster. */
  prefix: string;
}

/**
 * Registers one describe block per kubectl version. `target` runs in `before` (after the control plane is
 * up) and says which kubeconfig kubectl uses; pods and sandboxes are set up as the cluster admin directly.
 */
export function kubectlSuite(
  title: string,
  versions: readonly KubectlVersion[],
  target: (env: TestEnv) => Promise<SuiteTarget>,
): void {
  for (const version of versions) {
    describe(`${title}, kubectl ${version}`, () => {
      let via: SuiteTarget;
      let env: TestEnv;
      let ns: TestNamespace;
      let box: PodSandbox;
      let tmp: string;
      // A local HTTP server that the pod's port 8080 forwards to; its reply names this run.
      const marker = randomBytes(8).toString('hex');
      const server = http.createServer((req, res) => res.end(`hello from ${marker} via ${req.url}`));

      const k = (args: readonly string[], input?: string) =>
        kubectl(['-n', ns.name, ...args], {
          kubeconfig: via.kubeconfig,
          version,
          ...(input === undefined ? {} : { input }),
        });

      before(async () => {
        env = await testEnv();
        via = await target(env);
        ns = await namespace(env, `${via.prefix}${version.replace('.', '')}`);
        tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-e2e-'));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const { port } = server.address() as { port: number };
        box = await podSandbox(env, ns.name, 'box', [
          { podPort: 8080, target: { address: '127.0.0.1', port } },
        ]);
        await runningPod(env, ns.name, 'box');
      });

      after(async () => {
        server.close();
        await ns?.cleanup();
        if (tmp) await fs.rm(tmp, { recursive: true, force: true });
      });

      test('discovery lists core and group resources', async () => {
        const { stdout } = await k(['api-resources', '-o', 'name']);
        const names = stdout.trim().split('\n');
        for (const r of ['pods', 'namespaces', 'deployments.apps', 'roles.rbac.authorization.k8s.io']) {
          assert.ok(names.includes(r), `${r} missing from api-resources`);
        }
      });

      test('get pods -A sees pods across namespaces', async () => {
        const { stdout } = await k([
          'get',
          'pods',
          '-A',
          '-o',
          'jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}',
        ]);
        assert.ok(stdout.split('\n').includes(`${ns.name}/box`), stdout);
      });

      test('apply --server-side creates and updates, delete removes', async () => {
        const cm = (value: string) =>
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'settings', namespace: ns.name },
            data: { value },
          });
        await k(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], cm('one'));
        await k(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], cm('two'));
        const { stdout } = await k(['get', 'configmap', 'settings', '-o', 'jsonpath={.data.value}']);
        assert.equal(stdout, 'two');
        await k(['delete', 'configmap', 'settings', '--wait=true']);
        await assert.rejects(k(['get', 'configmap', 'settings']), /NotFound/);
      });

      test('get -w streams events as they happen', async () => {
        const watch = startKubectl(['-n', ns.name, 'get', 'configmaps', '-w', '-o', 'name'], {
          kubeconfig: via.kubeconfig,
          version,
        });
        try {
          await waitForOutput(watch, /configmap\/kube-root-ca\.crt/);
          await k(['create', 'configmap', `watched-${marker}`]);
          await waitForOutput(watch, new RegExp(`configmap/watched-${marker}`));
        } finally {
          watch.kill();
        }
      });

      test('auth can-i answers from the cluster', async () => {
        const { stdout } = await k(['auth', 'can-i', 'create', 'pods']);
        assert.equal(stdout.trim(), 'yes');
      });

      test('kubectl version reports the kube-apiserver built from k8s.io/kubernetes', async () => {
        const { stdout } = await k(['version', '-o', 'json']);
        const v = JSON.parse(stdout) as { serverVersion: { gitVersion: string; minor: string } };
        assert.match(v.serverVersion.gitVersion, /^v1\.34\.\d+$/);
        assert.equal(v.serverVersion.minor, '34');
      });

      test('get ns lists default and kube-system', async () => {
        const { stdout } = await k(['get', 'ns', '-o', 'name']);
        const names = stdout.trim().split('\n');
        assert.ok(names.includes('namespace/default'), stdout);
        assert.ok(names.includes('namespace/kube-system'), stdout);
        assert.ok(names.includes(`namespace/${ns.name}`), stdout);
      });

      test("a Deployment's pods reach Running on kwok nodes", async () => {
        await k(['create', 'deployment', 'web', '--image=registry.invalid/web:1', '--replicas=2']);
        await k(['rollout', 'status', 'deployment/web', '--timeout=60s']);
        const { stdout } = await k([
          'get',
          'pods',
          '-l',
          'app=web',
          '-o',
          'jsonpath={range .items[*]}{.status.phase} {.spec.nodeName}{"\\n"}{end}',
        ]);
        const pods = stdout
          .trim()
          .split('\n')
          .map((l) => l.split(' '));
        assert.equal(pods.length, 2, stdout);
        for (const [phase, node] of pods) {
          assert.equal(phase, 'Running');
          assert.match(node ?? '', /^kwok-node-\d+$/);
        }
      });

      test('exec prints output, runs in the pod sandbox and passes stdin', async () => {
        const { stdout } = await k([
          'exec',
          'box',
          '--',
          'sh',
          '-c',
          'pwd; echo "six times seven is $((6*7))"',
        ]);
        assert.equal(stdout, `${box.workDir}\nsix times seven is 42\n`);
        // head stops after two lines: kwok 0.8 never closes a command's stdin, so `cat` would wait forever.
        // The sleep keeps the command alive while kwok copies its output: kwok stops copying when the command
        // exits, and under load a fast `head` could exit before its two lines were copied.
        const input = `stdin ${marker}\nsecond line\n`;
        const echoed = await k(['exec', '-i', 'box', '--', 'sh', '-c', 'head -n 2; sleep 0.5'], input);
        assert.equal(echoed.stdout, input);
      });

      test('exec -it gives the command a terminal', async () => {
        // `script` runs kubectl on a pseudo-terminal, as a person's shell would. The sleep keeps the command
        // alive while kwok 0.8 copies its terminal output: kwok closes the terminal as soon as it exits.
        const command = [
          kubectlPath(version),
          '--kubeconfig',
          env.kubeconfig,
          '-n',
          ns.name,
          'exec',
          '-it',
          'box',
          '--',
          'sh',
          '-c',
          "'test -t 0 && test -t 1 && echo both-ends-are-a-tty; sleep 1'",
        ].join(' ');
        const { stdout } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
          env: kubectlEnv(),
          timeout: 30_000,
        });
        assert.match(stdout, /both-ends-are-a-tty/);
      });

      test('exec of a failing command fails and names its exit status', async () => {
        // kwok reports the exit status in the error text; a kubelet would also set kubectl's exit code.
        await assert.rejects(k(['exec', 'box', '--', 'sh', '-c', 'exit 3']), (err: KubectlError) => {
          assert.notEqual(err.exitCode, 0);
          assert.match(err.stderr, /exit status 3/);
          return true;
        });
      });

      test('logs shows the container log and logs -f follows it', async () => {
        await writeContainerLog(box, ['first line', 'second line']);
        const { stdout } = await k(['logs', 'box']);
        assert.equal(stdout, 'first line\nsecond line\n');

        const follow = startKubectl(['-n', ns.name, 'logs', '-f', 'box'], {
          kubeconfig: via.kubeconfig,
          version,
        });
        try {
          await waitForOutput(follow, /second line/);
          await writeUntilSeen(follow, box, `late line ${marker}`);
        } finally {
          follow.kill();
        }
      });

      test('attach streams what the container writes', async () => {
        const attach = startKubectl(['-n', ns.name, 'attach', 'box'], {
          kubeconfig: via.kubeconfig,
          version,
        });
        try {
          // attach shows only what is written after it connects, and it cannot tell us when that is.
          await writeUntilSeen(attach, box, `attached ${marker}`);
        } finally {
          attach.kill();
        }
      });

      test('port-forward carries an HTTP request to the pod port', async () => {
        const pf = startKubectl(
          ['-n', ns.name, 'port-forward', '--address', '127.0.0.1', 'pod/box', ':8080'],
          {
            kubeconfig: via.kubeconfig,
            version,
          },
        );
        try {
          const [, localPort] = await waitForOutput(pf, /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/);
          const body = await new Promise<string>((resolve, reject) => {
            http
              .get({ host: '127.0.0.1', port: Number(localPort), path: '/through-the-pod' }, (res) => {
                let text = '';
                res.setEncoding('utf8').on('data', (c: string) => (text += c));
                res.on('end', () => resolve(text));
              })
              .on('error', reject);
          });
          assert.equal(body, `hello from ${marker} via /through-the-pod`);
        } finally {
          pf.kill();
        }
      });

      test('cp copies a file into the pod and back out', async () => {
        const content = `payload ${marker}\n${randomBytes(2048).toString('base64')}\n`;
        const local = path.join(tmp, `in-${version}.txt`);
        await fs.writeFile(local, content);
        await k(['cp', local, `${ns.name}/box:copied-in.txt`]);
        assert.equal(await fs.readFile(path.join(box.workDir, 'copied-in.txt'), 'utf8'), content);

        const inside = `made in the pod ${marker}\n`;
        await fs.writeFile(path.join(box.workDir, 'made-inside.txt'), inside);
        const back = path.join(tmp, `out-${version}.txt`);
        await k(['cp', `${ns.name}/box:made-inside.txt`, back]);
        assert.equal(await fs.readFile(back, 'utf8'), inside);
      });
    });
  }
}
