// A cluster behind NAT: a whole control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) and
// the ztka agent run inside a network namespace of this test's own, whose only link is a veth pair to the
// host and whose services bind only the namespace's loopback. The controller listens on the host end of the
// veth. The agent dials out; kubectl on the host reaches the cluster only through the controller — and
// nothing on the host can connect into the namespace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  kubectl,
  namespace,
  podSandbox,
  runningPod,
  writeContainerLog,
  type EnvState,
  type KubectlError,
  type KubectlVersion,
  type TestEnv,
  type TestNamespace,
} from '@ztka/testenv';
import { canCreateNetns, createNetns, run, tcpProbe, type NetNs } from './support/netns.js';
import { Ztka } from '@ztka/testenv';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const testenvCli = path.join(root, 'testenv/dist/cli.js');
const CLUSTER = 'natted';
const VERSIONS: readonly KubectlVersion[] = ['1.33', '1.27'];

const probe = await canCreateNetns();
const skip = probe.ok ? false : `needs network namespaces (run as root on Linux): ${probe.reason}`;
if (!probe.ok) console.error(`nat.test: skipped: ${skip}`);

const isLoopback = (address: string) => address.startsWith('127.') || address === '::1';

describe('a cluster behind NAT, reached only through its agent', { skip, timeout: 30 * 60_000 }, () => {
  let ns: NetNs | undefined;
  let tmp: string | undefined;
  let envDir: string;
  let state: EnvState;
  let z: Ztka | undefined;
  let kubeconfig: string;
  /** The natted cluster as tests see it: pods and sandboxes are created by kubectl through ztka. */
  let natEnv: TestEnv;
  let testNs: TestNamespace;
  const inside = (args: string[], timeoutMs = 240_000) =>
    ns!.run(['env', `ZTKA_TESTENV_DIR=${envDir}`, process.execPath, testenvCli, ...args], { timeoutMs });
  const removeTmp = () => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  };

  before(
    async () => {
      process.on('exit', removeTmp);
      tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'ztka-nat-'));
      envDir = path.join(tmp, 'testenv');
      // The namespace has no way to the internet: build (or find) the binaries out here first.
      await run(['bash', path.join(root, 'testenv/build.sh')], { timeoutMs: 20 * 60_000 });
      ns = await createNetns('ztka-nat');

      // A second control plane, inside the namespace; its processes are detached and stay there.
      const up = await inside(['up']);
      const kubeconfigInside = up.stdout.trim().split('\n').pop() ?? '';
      state = JSON.parse(await fsp.readFile(path.join(envDir, 'state.json'), 'utf8')) as EnvState;
      assert.equal(kubeconfigInside, state.kubeconfig);

      // The controller on the host end of the veth, the only address the namespace can reach.
      z = await Ztka.start({ listenHost: ns.hostIp });
      assert.equal(z.url, `https://${ns.hostIp}:${new URL(z.url).port}`);
      await z.connectCluster(CLUSTER, state.kubeconfig, 'desktop', { netnsExec: ns.execPrefix });
      kubeconfig = await z.kubeconfig(CLUSTER);
      natEnv = {
        ...state,
        admin: async (args, input) =>
          (await kubectl(args, { kubeconfig, version: '1.33', ...(input === undefined ? {} : { input }) }))
            .stdout,
      };
      testNs = await namespace(natEnv, 'nat');
    },
    { timeout: 25 * 60_000 },
  );

  after(
    async () => {
      const errors: unknown[] = [];
      const attempt = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          errors.push(new Error(`${what}: ${(err as Error).message}`));
        }
      };
      if (z) await attempt('stopping ztka', () => z!.stop());
      if (ns && envDir) await attempt('testenv down', () => inside(['down'], 60_000));
      if (ns) await attempt('deleting the namespace', () => ns!.destroy());
      await attempt('removing temp files', async () => removeTmp());
      process.off('exit', removeTmp);
      if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
    },
    { timeout: 120_000 },
  );

  test(
    'the agent dialled out from inside the namespace and the cluster shows connected',
    { timeout: 60_000 },
    async () => {
      const res = await z!.api<{ connected: boolean; kubeVersion: string }>('GET', `/v1/clusters/${CLUSTER}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.connected, true);
      assert.match(res.body.kubeVersion, /^v1\.34\./);

      // The tunnel is a connection the namespace opened: from its veth address to the controller's port.
      const port = new URL(z!.url).port;
      const { stdout } = await ns!.run(['ss', '-Htn', 'state', 'established'], { timeoutMs: 10_000 });
      const outbound = stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((cols) => cols[2]?.startsWith(`${ns!.nsIp}:`) && cols[3] === `${ns!.hostIp}:${port}`);
      assert.ok(outbound.length > 0, `no connection from ${ns!.nsIp} to ${ns!.hostIp}:${port}:\n${stdout}`);
    },
  );

  for (const version of VERSIONS) {
    test(
      `kubectl ${version} on the host: get ns, a pod, exec and logs, all through the controller`,
      { timeout: 180_000 },
      async () => {
        const k = async (args: string[], input?: string) =>
          (
            await kubectl(['-n', testNs.name, ...args], {
              kubeconfig,
              version,
              timeoutMs: 60_000,
              ...(input === undefined ? {} : { input }),
            })
          ).stdout;

        const names = (await k(['get', 'ns', '-o', 'name'])).split('\n');
        assert.ok(names.includes('namespace/kube-system'), names.join(' '));
        assert.ok(names.includes(`namespace/${testNs.name}`), names.join(' '));

        const pod = `box-${version.replace('.', '-')}`;
        const box = await podSandbox(natEnv, testNs.name, pod);
        await runningPod(natEnv, testNs.name, pod);
        const phase = await k(['get', 'pod', pod, '-o', 'jsonpath={.status.phase} {.spec.nodeName}']);
        assert.match(phase, /^Running kwok-node-\d$/);

        // The command runs where the natted cluster's kwok runs: in the namespace, which has only lo and the
        // inside end of the veth.
        const out = await k(['exec', pod, '--', 'sh', '-c', 'echo hi; pwd; cat /proc/net/dev']);
        const [hi, pwd, ...dev] = out.split('\n');
        assert.equal(hi, 'hi');
        assert.equal(pwd, box.workDir);
        const ifaces = dev
          .slice(2)
          .map((l) => l.split(':')[0]!.trim())
          .filter(Boolean)
          .sort();
        assert.deepEqual(ifaces, [ns!.nsVeth, 'lo'].sort());

        // stdin travels down the tunnel too (head stops by itself: kwok never closes a command's stdin).
        assert.equal(
          await k(['exec', '-i', pod, '--', 'head', '-n', '1'], 'up the tunnel\n'),
          'up the tunnel\n',
        );

        const line = `hello from behind NAT ${randomBytes(4).toString('hex')}`;
        await writeContainerLog(box, [line]);
        assert.equal(await k(['logs', pod]), `${line}\n`);
      },
    );
  }

  test('nothing on the host can connect into the namespace', { timeout: 120_000 }, async (t) => {
    const apiPort = Number(new URL(state.apiserverUrl).port);
    const listeners = await ns!.listeners();
    const describeAll = listeners.map((l) => `${l.address}:${l.port} ${l.process}`).join('\n');
    // etcd (client and peer), kube-apiserver and kwok all listen — on the namespace's loopback only.
    assert.ok(
      listeners.some((l) => l.port === apiPort),
      `the apiserver does not listen on ${apiPort}:\n${describeAll}`,
    );
    assert.ok(listeners.length >= 4, describeAll);
    assert.deepEqual(
      listeners.filter((l) => !isLoopback(l.address)),
      [],
      `listeners beyond loopback:\n${describeAll}`,
    );

    // The path into the namespace exists: a listener on the inside address is reachable from the host...
    const server = ns!.spawn(
      [
        process.execPath,
        '-e',
        `require('net').createServer((s)=>s.end()).listen(0,'${ns!.nsIp}',function(){console.log(this.address().port)})`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const controlPort = await new Promise<number>((resolve, reject) => {
        server.stdout!.setEncoding('utf8').once('data', (c: string) => resolve(Number(c.trim())));
        server.once('exit', (code) => reject(new Error(`the probe listener exited ${code}`)));
      });
      assert.equal(await tcpProbe(ns!.nsIp, controlPort), 'connected');
    } finally {
      server.kill('SIGKILL');
    }

    // ...yet none of the cluster's listeners (the apiserver the agent uses among them) accepts from the host.
    for (const l of listeners) {
      const result = await tcpProbe(ns!.nsIp, l.port);
      t.diagnostic(`${ns!.nsIp}:${l.port} (${l.address}, ${l.process.replace(/,fd=\d+/g, '')}): ${result}`);
      assert.match(result, /^(ECONNREFUSED|timeout)$/, `${ns!.nsIp}:${l.port} (${l.process}) said ${result}`);
    }

    // Inside, the apiserver is right there on loopback: the port is the right one.
    const inner = await ns!.run(
      [
        process.execPath,
        '-e',
        `const s=require('net').connect(${apiPort},'127.0.0.1',()=>process.exit(0));s.on('error',()=>process.exit(1))`,
      ],
      { timeoutMs: 10_000, allowFailure: true },
    );
    assert.equal(inner.code, 0, 'the apiserver is not reachable even inside the namespace');

    // The host's own loopback on that port is not that apiserver: its CA and admin certificate get no answer.
    const read = (f: string) => fs.readFileSync(path.join(state.pkiDir, f));
    const tls = { ca: read('ca.crt'), cert: read('admin.crt'), key: read('admin.key') };
    const hostLoopback = await new Promise<string>((resolve) => {
      https
        .get(`https://127.0.0.1:${apiPort}/version`, { ...tls, timeout: 3000 }, (res) => {
          res.resume();
          resolve(`HTTP ${res.statusCode}`);
        })
        .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
        .on('timeout', function (this: ClientRequest) {
          this.destroy(Object.assign(new Error('timeout'), { code: 'timeout' }));
        });
    });
    t.diagnostic(`host 127.0.0.1:${apiPort} with the natted cluster's credentials: ${hostLoopback}`);
    assert.doesNotMatch(
      hostLoopback,
      /^HTTP/,
      `127.0.0.1:${apiPort} on the host answered as the natted apiserver`,
    );

    // kubectl with the cluster's own admin kubeconfig fails from the host, as written (127.0.0.1) and aimed
    // at the inside address.
    const direct = path.join(tmp!, 'direct.kubeconfig');
    const original = await fsp.readFile(state.kubeconfig, 'utf8');
    await fsp.writeFile(direct, original.replace(state.apiserverUrl, `https://${ns!.nsIp}:${apiPort}`), {
      mode: 0o600,
    });
    assert.notEqual(await fsp.readFile(direct, 'utf8'), original);
    for (const file of [state.kubeconfig, direct]) {
      await assert.rejects(
        kubectl(['get', 'ns', '--request-timeout=5s'], {
          kubeconfig: file,
          version: '1.33',
          timeoutMs: 20_000,
        }),
        (err: KubectlError) => {
          assert.doesNotMatch(err.stdout, /kube-system/);
          return true;
        },
      );
    }
    const refused = await kubectl(['get', 'ns', '--request-timeout=5s'], {
      kubeconfig: direct,
      version: '1.33',
      timeoutMs: 20_000,
    }).catch((err: KubectlError) => err.stderr);
    t.diagnostic(`kubectl at ${ns!.nsIp}:${apiPort}: ${String(refused).trim().split('\n').pop()}`);
    assert.match(String(refused), /connection refused|i\/o timeout|context deadline exceeded/);
  });
});
