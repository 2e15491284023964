// The sandbox as an attacker inside it sees it: in place of kubectl runs a program that does whatever its
// arguments say (as kubectl would if some flag made it read, write, connect or fork at will), in the real
// sandbox (bubblewrap, setpriv, prlimit, cgroups; the tests run as root, as the controller does).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { INSIDE, processesOf, ShellSandbox, type SandboxWorkspace } from './sandbox.js';

// Runs the JavaScript in argv[2] and prints what it returns as one JSON line.
const PROBE = `#!${INSIDE.node}
const fs = require('node:fs');
const net = require('node:net');
const cp = require('node:child_process');
const run = new Function('fs', 'net', 'cp', 'return (async () => {' + process.argv[2] + '})()');
run(fs, net, cp).then(
  (v) => process.stdout.write('RESULT=' + JSON.stringify(v) + '\\n'),
  (e) => process.stdout.write('RESULT=' + JSON.stringify({ thrown: e.code || e.message }) + '\\n'),
);
`;

const MIB = 1024 * 1024;
let dir = '';
let secretDir = '';
let sandbox: ShellSandbox;
const limits = { memoryBytes: 192 * MIB, tasks: 64, cpuPercent: 100, cpuSeconds: 4, fileBytes: 4 * MIB };

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-sandbox-test-'));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'kubectl'), PROBE, { mode: 0o755 });
  fs.mkdirSync(path.join(dir, 'work'), { mode: 0o755 });
  // Stands for the controller's data dir: a file the sandbox must not see, even by its host path.
  secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-sandbox-secret-'));
  fs.writeFileSync(path.join(secretDir, 'ca.key'), 'PRIVATE KEY');
  fs.chmodSync(secretDir, 0o755);
  sandbox = new ShellSandbox({
    kubectl: path.join(dir, 'kubectl'),
    workRoot: path.join(dir, 'work'),
    uidBase: 2_120_000_000,
    slots: 4,
    limits,
    log: pino({ level: 'silent' }),
  });
  await sandbox.ready();
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(secretDir, { recursive: true, force: true });
});

async function workspace(t: { after: (fn: () => unknown) => void }): Promise<SandboxWorkspace> {
  const w = await sandbox.open();
  t.after(() => w.release());
  return w;
}

/** Runs `code` in the sandbox; its result, or `{ exit }` when it died first. */
async function inside(w: SandboxWorkspace, code: string): Promise<unknown> {
  const child = w.spawn([code], 200, 50);
  let out = '';
  child.onData((d) => (out += d));
  const code_ = await new Promise<number>((resolve) => child.onExit(resolve));
  const m = /RESULT=(.*)\r?\n/.exec(out);
  return m ? JSON.parse(m[1] ?? 'null') : { exit: code_, out };
}

describe('the shell sandbox, attacked from inside', { concurrency: 2 }, () => {
  test('runs as its own unprivileged user, with no capabilities and no_new_privs', async (t) => {
    const w = await workspace(t);
    const status = (await inside(w, "return fs.readFileSync('/proc/self/status', 'utf8')")) as string;
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
    assert.equal(field('Uid')?.split(/\s+/)[0], String(w.uid));
    assert.notEqual(w.uid, 0);
    assert.notEqual(w.uid, process.getuid?.());
    assert.equal(field('CapEff'), '0000000000000000');
    assert.equal(field('CapBnd'), '0000000000000000');
    assert.equal(field('NoNewPrivs'), '1');
  });

  test("sees none of the host's files: only kubectl, its runtime, /session, /run/ztka, /tmp, /proc, /dev", async (t) => {
    const w = await workspace(t);
    for (const file of [
      '/etc/shadow',
      '/etc/passwd',
      '/etc/hostname',
      '/root',
      path.join(secretDir, 'ca.key'),
      dir,
    ]) {
      assert.deepEqual(
        await inside(w, `return fs.readFileSync(${JSON.stringify(file)}, 'utf8')`),
        { thrown: 'ENOENT' },
        file,
      );
    }
    assert.deepEqual(((await inside(w, "return fs.readdirSync('/')")) as string[]).sort(), [
      'dev',
      'lib',
      'lib64',
      'proc',
      'run',
      'session',
      'tmp',
      'usr',
    ]);
  });

  test('sees only its own processes: not the controller, not its environment', async (t) => {
    const w = await workspace(t);
    const pids = (await inside(
      w,
      "return fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n))",
    )) as string[];
    assert.ok(pids.length <= 4, `its own few processes, not the host's: ${pids.join(' ')}`);
    assert.ok(!pids.includes(String(process.pid)) || Number(process.pid) <= 4);
    const env = (await inside(w, "return fs.readFileSync('/proc/1/environ', 'utf8')")) as string;
    assert.doesNotMatch(env, /ZTKA_|PASSWORD|NODE_/);
  });

  test('writes only its session directory and its bounded /tmp', async (t) => {
    const w = await workspace(t);
    for (const file of [
      '/x',
      '/usr/bin/x',
      '/run/ztka/x',
      '/run/ztka/kubeconfig',
      '/proc/sys/kernel/hostname',
    ]) {
      const result = (await inside(
        w,
        `fs.writeFileSync(${JSON.stringify(file)}, 'x'); return 'written'`,
      )) as {
        thrown?: string;
      };
      assert.ok(result.thrown !== undefined, `${file}: ${JSON.stringify(result)}`);
    }
    assert.equal(
      await inside(w, "fs.writeFileSync('/session/a', 'x'); return fs.readFileSync('/session/a', 'utf8')"),
      'x',
    );
    assert.equal(fs.readFileSync(path.join(w.home, 'a'), 'utf8'), 'x');
    assert.equal(fs.statSync(path.join(w.home, 'a')).uid, w.uid);
    // No file larger than the limit, in /session or /tmp.
    for (const file of ['/session/big', '/tmp/big']) {
      const result = await inside(
        w,
        `const f = fs.openSync(${JSON.stringify(file)}, 'w'); const mb = Buffer.alloc(1 << 20);
         for (let i = 0; i < 16; i++) fs.writeSync(f, mb); return 'wrote 16 MiB'`,
      );
      assert.notEqual(result, 'wrote 16 MiB', file);
    }
    // ...and the shell carries on.
    assert.equal(await inside(w, "return 'alive'"), 'alive');
  });

  test('the session directory is bounded in total, not only per file, and runs nothing', async (t) => {
    const w = await workspace(t);
    // Many files each under the per-file limit: together they stop at the directory's size.
    const wrote = (await inside(
      w,
      `const mb = Buffer.alloc(1 << 20); let n = 0;
       try { for (; n < 64; n++) fs.writeFileSync('/session/f' + n, Buffer.concat([mb, mb, mb])); }
       catch (err) { return { files: n, code: err.code }; }
       return { files: n }`,
    )) as { files: number; code?: string };
    assert.equal(wrote.code, 'ENOSPC', JSON.stringify(wrote));
    assert.ok(wrote.files * 3 <= 4, `${wrote.files} files of 3 MiB in a 4 MiB directory`);
    // Nothing written there runs, and no device or setuid file means anything.
    const mounts = (await inside(w, "return fs.readFileSync('/proc/self/mountinfo', 'utf8')")) as string;
    const session = mounts.split('\n').find((l) => l.split(' ')[4] === '/session') ?? '';
    for (const option of ['noexec', 'nosuid', 'nodev'])
      assert.match(session, new RegExp(`\\b${option}\\b`), session);
  });

  test('reaches no network: not the host loopback, only its own', async (t) => {
    const w = await workspace(t);
    const server = net.createServer((s) => s.end('HOST\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    const port = (server.address() as net.AddressInfo).port;
    const result = await inside(
      w,
      `return await new Promise((resolve) => {
         const s = net.connect(${port}, '127.0.0.1');
         s.on('data', (d) => resolve('connected: ' + d));
         s.on('error', (e) => resolve(e.code));
       })`,
    );
    assert.equal(result, 'ECONNREFUSED');
    const ifaces = (await inside(w, "return fs.readFileSync('/proc/net/dev', 'utf8')")) as string;
    assert.deepEqual(
      ifaces
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]?.trim())
        .filter(Boolean),
      ['lo'],
    );
  });

  test('its one way out is the relay to its own Unix socket', async (t) => {
    const w = await workspace(t);
    const server = net.createServer((s) => s.end('CONTROLLER\n'));
    await new Promise<void>((resolve) => server.listen(w.socketPath, resolve));
    fs.chownSync(w.socketPath, w.uid, w.uid);
    t.after(() => server.close());
    // The program in place of kubectl reaches the relay that sandbox-init started before it.
    const result = await inside(
      w,
      `return await new Promise((resolve) => {
         const s = net.connect(${INSIDE.port}, '127.0.0.1');
         let got = '';
         s.on('data', (d) => (got += d));
         s.on('end', () => resolve(got));
         s.on('error', (e) => resolve(e.code));
       })`,
    );
    assert.equal(result, 'CONTROLLER\n');
  });

  test('a fork bomb meets the task limit, and the shell carries on', async (t) => {
    const w = await workspace(t);
    const result = (await inside(
      w,
      `const kids = [];
       for (let i = 0; i < 200; i++) {
         const r = cp.spawn('/usr/bin/node', ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' });
         const failed = await new Promise((resolve) => { r.once('error', (e) => resolve(e.code)); r.once('spawn', () => resolve(null)); });
         if (failed) { kids.forEach((k) => k.kill('SIGKILL')); return { failed, after: i }; }
         kids.push(r);
       }
       kids.forEach((k) => k.kill('SIGKILL'));
       return { failed: null, after: 200 };`,
    )) as { failed: string | null; after: number; exit?: number };
    assert.ok(
      result.exit !== undefined || (result.failed !== null && result.after < 64),
      JSON.stringify(result),
    );
    assert.equal(await inside(w, "return 'alive'"), 'alive');
  });

  test('memory past the limit kills only the command, and the shell carries on', async (t) => {
    const w = await workspace(t);
    assert.ok(w.cgroup, 'this host gives each shell a cgroup');
    const result = await inside(
      w,
      `const keep = []; for (let i = 0; i < 64; i++) keep.push(Buffer.alloc(16 << 20, 1)); return 'allocated 1 GiB'`,
    );
    assert.notEqual(result, 'allocated 1 GiB');
    assert.equal(await inside(w, "return 'alive'"), 'alive');
  });

  test('a busy loop meets the CPU time limit, and the shell carries on', async (t) => {
    const w = await workspace(t);
    const started = Date.now();
    const result = (await inside(w, 'for (;;) {}')) as { exit?: number };
    assert.ok(result.exit !== undefined && result.exit !== 0, JSON.stringify(result));
    assert.ok(Date.now() - started < 30_000);
    assert.equal(await inside(w, "return 'alive'"), 'alive');
  });

  test('nothing of a shell outlives it, and its uid is free again', async () => {
    const w = await sandbox.open();
    const child = w.spawn(['setInterval(() => {}, 1000); await new Promise(() => {})'], 80, 24);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await child.terminate();
    await w.release();
    const left = await processesOf(w.uid);
    assert.deepEqual(left, []);
    assert.equal(fs.existsSync(path.dirname(w.home)), false);
  });
});

// The first wall alone: real kubectl, every attack of the command line handed to it as is (no command-line
// policy in front), and still nothing of the host is read or written.
for (const version of ['1.27', '1.33']) {
  describe(`real kubectl ${version} in the sandbox, with no command-line policy in front`, () => {
    const kubectl = `/usr/lib/google-cloud-sdk/bin/kubectl.${version}`;
    let real: ShellSandbox;
    let root = '';
    const marker = `/tmp/ztka-sandbox-escape-${process.pid}-${version}`;
    before(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-sandbox-kubectl-'));
      fs.chmodSync(root, 0o755);
      real = new ShellSandbox({
        kubectl,
        workRoot: root,
        uidBase: version === '1.27' ? 2_120_000_100 : 2_120_000_200,
        slots: 2,
        limits: { ...limits, memoryBytes: 512 * MIB },
        log: pino({ level: 'silent' }),
      });
      await real.ready();
    });
    after(() => fs.rmSync(root, { recursive: true, force: true }));

    test('reads of host files by every output, --from-file, -f and -k form find nothing', async (t) => {
      const w = await real.open();
      t.after(() => w.release());
      await w.writeKubeconfig(
        'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:8001"}}]\n' +
          'users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n' +
          'current-context: c\n',
      );
      const secret = path.join(secretDir, 'ca.key');
      const reads = [
        ['create', 'ns', 'x', '--dry-run=client', '-o', 'templatefile=/etc/shadow'],
        ['create', 'ns', 'x', '--dry-run=client', '--output=templatefile=/etc/passwd'],
        ['create', 'ns', 'x', '--dry-run=client', '-otemplatefile=/etc/hostname'],
        ['create', 'ns', 'x', '--dry-run=client', '-o', 'go-template-file', '--template', secret],
        ['create', 'ns', 'x', '--dry-run=client', '-o', `jsonpath-file=${secret}`],
        ['create', 'ns', 'x', '--dry-run=client', '-o', `custom-columns-file=${secret}`],
        ['create', 'ns', 'x', '--dry-run=client', '-o', `templatefile=/proc/${process.pid}/environ`],
        ['create', 'cm', 'x', '--dry-run=client', '-o', 'yaml', `--from-file=${secret}`],
        [
          'create',
          'cm',
          'x',
          '--dry-run=client',
          '-o',
          'yaml',
          `--from-env-file=/proc/${process.pid}/environ`,
        ],
        ['create', 'cm', 'x', '--dry-run=client', '-o', 'yaml', '--from-file=/etc'],
        ['apply', '--dry-run=client', '-o', 'yaml', '-f', secret],
        ['apply', '--dry-run=client', '-o', 'yaml', '-f', '/etc/'],
        ['kustomize', secretDir],
      ];
      for (const args of reads) {
        const { out } = await kubectlIn(w, args);
        assert.doesNotMatch(
          out,
          /PRIVATE KEY|root:|ZTKA_|vm\r?\n/,
          `${args.join(' ')} read the host: ${out}`,
        );
        // It failed, one way or another: the file was not there, or (for a form that wants the server)
        // the test's unreachable server did not answer.
        assert.match(
          out,
          /no such file|not found|does not exist|error|unable to connect|refused/i,
          `${args.join(' ')}: ${out}`,
        );
      }
    });

    test('writes outside the session directory go nowhere', async (t) => {
      const w = await real.open();
      t.after(() => w.release());
      fs.writeFileSync(path.join(w.home, 'kustomization.yaml'), 'resources: []\n');
      fs.chownSync(path.join(w.home, 'kustomization.yaml'), w.uid, w.uid);
      const writes = [
        ['kustomize', '.', `--output=${marker}`],
        ['kustomize', '.', '-o', marker],
        ['version', '--client', `--log-file=${marker}`, '--logtostderr=false'],
        ['version', '--client', `--cache-dir=${marker}`],
      ];
      for (const args of writes) {
        await kubectlIn(w, args);
        assert.equal(fs.existsSync(marker), false, `${args.join(' ')} wrote ${marker} on the host`);
      }
      // Inside the session directory, writing works.
      await kubectlIn(w, ['kustomize', '.', '--output=out.yaml']);
      assert.equal(fs.existsSync(path.join(w.home, 'out.yaml')), true);
    });
  });
}

async function kubectlIn(w: SandboxWorkspace, args: string[]): Promise<{ code: number; out: string }> {
  const child = w.spawn(args, 200, 50);
  let out = '';
  child.onData((d) => (out += d));
  const code = await new Promise<number>((resolve) => child.onExit(resolve));
  return { code, out };
}

test('no descriptor the controller inherited reaches the sandbox', async (t) => {
  // A controller started with an open file past stdio (a supervisor's pipe, a socket-activated listener, a
  // secret): the sandbox must not get it.
  const secret = path.join(secretDir, 'ca.key');
  const script = path.join(dir, 'inherit.mjs');
  const options = {
    kubectl: path.join(dir, 'kubectl'),
    workRoot: path.join(dir, 'work'),
    uidBase: 2_120_000_300,
    slots: 1,
    limits,
  };
  fs.writeFileSync(
    script,
    `import { pino } from ${JSON.stringify(import.meta.resolve('pino'))};
     import { ShellSandbox } from ${JSON.stringify(new URL('./sandbox.js', import.meta.url).href)};
     const s = new ShellSandbox({ ...${JSON.stringify(options)}, log: pino({ level: 'silent' }) });
     const w = await s.open();
     const child = w.spawn([${JSON.stringify(
       "return fs.readdirSync('/proc/self/fd').map((fd) => { try { const f = '/proc/self/fd/' + fd; return fs.statSync(f).isFile() ? fd + ':' + fs.readFileSync(f, 'utf8').slice(0, 40) : fd; } catch { return fd; } })",
     )}], 200, 50);
     let out = '';
     child.onData((d) => (out += d));
     child.onExit(async () => { await w.release(); process.stdout.write(out, () => process.exit(0)); });`,
  );
  const { spawn } = await import('node:child_process');
  const fd = fs.openSync(secret, 'r');
  t.after(() => fs.closeSync(fd));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit', fd] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  const m = /RESULT=(.*)\r?\n/.exec(out);
  assert.ok(m, out);
  const fds = JSON.parse(m[1] ?? '[]') as string[];
  assert.ok(
    !fds.some((f) => f.includes('PRIVATE KEY')),
    `an inherited file reached the sandbox: ${fds.join(' ')}`,
  );
});
