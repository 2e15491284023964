// Real sessions: a ws server and client on 127.0.0.1, node-pty, the real sandbox (bubblewrap; the tests run
// as root, as the controller does), and a fake kubectl (a small Node script bound where kubectl goes) that
// shows what it was given: argv, environment, working directory, terminal size.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino, type Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { INSIDE, processesOf, ShellSandbox, type SandboxOptions } from './sandbox.js';
import { forLog, startShellSession, type ShellSession, type ShellSessionOptions } from './session.js';

type TestContext = { after: (fn: () => unknown) => void };

const FAKE_KUBECTL = `#!${INSIDE.node}
const fs = require('node:fs');
const args = process.argv.slice(2);
const say = (s) => process.stdout.write(s + '\\n');
const size = () => 'SIZE=' + process.stdout.columns + 'x' + process.stdout.rows;
say('ARGV=' + JSON.stringify(args));
say('ENV=' + JSON.stringify(process.env));
say('CWD=' + process.cwd());
say('PID=' + process.pid);
say(size());
say('KUBECONFIG_CONTENT=' + JSON.stringify(fs.readFileSync(process.env.KUBECONFIG, 'utf8')));
switch (args[1]) { // driven as 'kubectl get <what>': get is a command the policy allows
  case 'read': {
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\\n');
      if (i >= 0) {
        say('GOT=' + buf.slice(0, i).replace(/\\r$/, ''));
        process.exit(0);
      }
    });
    say('READING');
    break;
  }
  case 'wait':
    process.on('SIGINT', () => {
      say('INTERRUPTED');
      process.exit(130);
    });
    process.stdout.on('resize', () => say(size()));
    say('WAITING');
    setInterval(() => {}, 1000);
    break;
  case 'stubborn':
    process.on('SIGHUP', () => say('IGNORED SIGHUP'));
    process.on('SIGINT', () => {});
    say('WAITING');
    setInterval(() => {}, 1000);
    break;
  case 'fail':
    process.exit(3);
  case 'nonewline':
    process.stdout.write('no newline');
    break;
}
`;

let fakeDir = '';
let fakeKubectl = '';
before(() => {
  fakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-fake-kubectl-'));
  fs.chmodSync(fakeDir, 0o755); // the shell's own user binds it into the sandbox
  fakeKubectl = path.join(fakeDir, 'kubectl.cjs');
  fs.writeFileSync(fakeKubectl, FAKE_KUBECTL, { mode: 0o755 });
});
after(() => fs.rmSync(fakeDir, { recursive: true, force: true }));

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface Harness {
  session: ShellSession;
  client: WebSocket;
  workRoot: string;
  recorded: string[];
  logs: LogLine[];
  ends: string[];
  exits: string[];
  clientClosed: Promise<void>;
  output(): string;
  send(frame: unknown): void;
  type(data: string): void;
  /** Waits until the output after `from` matches; returns the index just past the match. */
  waitFor(pattern: RegExp | string, from?: number, timeoutMs?: number): Promise<number>;
  workDir(): string;
}

function newSandbox(workRoot: string, log: Logger, overrides: Partial<SandboxOptions> = {}): ShellSandbox {
  return new ShellSandbox({
    kubectl: fakeKubectl,
    workRoot,
    uidBase: 2_100_000_000,
    slots: 8,
    limits: { memoryBytes: 256 << 20, tasks: 128, cpuPercent: 100, cpuSeconds: 60, fileBytes: 16 << 20 },
    log,
    ...overrides,
  });
}

// One sandbox for the suite, as one controller has: its start-up probe runs once.
let sharedRoot = '';
let shared: ShellSandbox;
before(async () => {
  sharedRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-shell-test-'));
  fs.chmodSync(sharedRoot, 0o755);
  shared = newSandbox(sharedRoot, pino({ level: 'silent' }));
  await shared.ready();
});
after(() => fs.rmSync(sharedRoot, { recursive: true, force: true }));

async function harness(
  t: TestContext,
  overrides: Partial<ShellSessionOptions> = {},
  sandboxOverrides: Partial<SandboxOptions> = {},
): Promise<Harness> {
  const own = Object.keys(sandboxOverrides).length > 0;
  const workRoot = own ? fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-shell-test-')) : sharedRoot;
  if (own) t.after(() => fs.rmSync(workRoot, { recursive: true, force: true }));
  let opened: string | undefined;
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(JSON.parse(chunk.toString()) as LogLine);
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const recorded: string[] = [];
  const ends: string[] = [];
  const sandbox = own ? newSandbox(workRoot, log, sandboxOverrides) : shared;

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const address = wss.address();
  assert.ok(address !== null && typeof address === 'object');
  const started = new Promise<ShellSession>((resolve) =>
    wss.once('connection', (socket) =>
      resolve(
        startShellSession({
          id: 'shell-1',
          socket,
          username: 'alice',
          cluster: 'dev',
          kubeconfig: async () => 'apiVersion: v1\nkind: Config\n',
          workspace: async () => {
            const workspace = await sandbox.open();
            opened = path.dirname(workspace.home);
            return workspace;
          },
          recordCommand: async (line) => void recorded.push(line),
          log,
          onEnd: (reason) => ends.push(reason),
          ...overrides,
        }),
      ),
    ),
  );
  const client = new WebSocket(`ws://127.0.0.1:${address.port}`);
  let out = '';
  const exits: string[] = [];
  client.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; data?: string; reason?: string };
    if (frame.type === 'output') out += frame.data;
    else if (frame.type === 'exit') exits.push(frame.reason ?? '');
  });
  const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const session = await started;
  t.after(async () => {
    session.close('test over');
    await session.ended;
    client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });

  const h: Harness = {
    session,
    client,
    workRoot,
    recorded,
    logs,
    ends,
    exits,
    clientClosed,
    output: () => out,
    send: (frame) => client.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    type: (data) => h.send({ type: 'input', data }),
    async waitFor(pattern, from = 0, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const tail = out.slice(from);
        const m = typeof pattern === 'string' ? tail.indexOf(pattern) : tail.search(pattern);
        if (m >= 0) {
          const len = typeof pattern === 'string' ? pattern.length : (tail.match(pattern)?.[0].length ?? 0);
          return from + m + len;
        }
        if (Date.now() > deadline)
          assert.fail(
            `timed out waiting for ${String(pattern)}; output after ${from}: ${JSON.stringify(tail)}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    workDir() {
      assert.ok(opened !== undefined, 'the session made its directories');
      return opened;
    },
  };
  return h;
}

const PROMPT = 'alice@dev$ ';
const BANNER = 'Connected to cluster dev as alice. Only kubectl commands run here.\r\n';

/** The value of a `NAME=…` line the fake kubectl printed after `from`. */
function shown(output: string, name: string, from = 0): string {
  const m = new RegExp(`${name}=(.*?)\\r\\n`).exec(output.slice(from));
  assert.ok(m, `no ${name}= in ${JSON.stringify(output.slice(from))}`);
  return m[1] ?? '';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('refused lines are logged without the secrets they carry', () => {
  assert.equal(
    forLog('kubectl get ns --token=abc.def --password hunter2 --user=x'),
    'kubectl get ns --token=<redacted> --password <redacted> --user=x',
  );
  assert.equal(forLog('x'.repeat(5000)).length, 1001);
});

describe('browser shell session', { concurrency: 4 }, () => {
  test('runs kubectl: banner, prompt, echo, its output, a new prompt; a private dir and a clean env', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    assert.equal(h.output(), BANNER + PROMPT);

    const workDir = h.workDir();
    assert.match(path.basename(workDir), /^ztka-shell-/);
    assert.equal(fs.statSync(workDir).mode & 0o777, 0o711);
    const home = fs.statSync(path.join(workDir, 'home'));
    assert.equal(home.mode & 0o777, 0o700);
    assert.ok(home.uid > 2_000_000_000 && home.uid !== process.getuid?.(), 'the shell has its own user');
    const kubeconfig = path.join(workDir, 'run', 'kubeconfig');
    assert.equal(fs.statSync(kubeconfig).mode & 0o777, 0o400);
    assert.equal(fs.statSync(kubeconfig).uid, home.uid);
    assert.equal(fs.readFileSync(kubeconfig, 'utf8'), 'apiVersion: v1\nkind: Config\n');

    const start = h.output().length;
    h.type('kubectl get ns\r');
    const done = await h.waitFor(/\r\nalice@dev\$ $/, start);
    const out = h.output().slice(start, done);
    assert.ok(out.startsWith('kubectl get ns\r\nARGV=["get","ns"]\r\n'), JSON.stringify(out));
    assert.deepEqual(h.recorded, ['kubectl get ns']);
    assert.doesNotMatch(out, /\[exit/);

    const env = JSON.parse(shown(out, 'ENV')) as Record<string, string>;
    assert.deepEqual(env, {
      HOME: '/session',
      KUBECONFIG: '/run/ztka/kubeconfig',
      PATH: '/nonexistent',
      KUBECTL_KUBERC: 'false',
      KUBE_EDITOR: '/bin/false',
      EDITOR: '/bin/false',
      TERM: 'xterm-256color',
      LANG: 'C.UTF-8',
      PWD: '/session', // bubblewrap's --chdir
    });
    assert.equal(shown(out, 'CWD'), '/session');
    assert.equal(JSON.parse(shown(out, 'KUBECONFIG_CONTENT')), 'apiVersion: v1\nkind: Config\n');
  });

  test('the arguments reach kubectl as parsed, with nothing expanded or executed', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    h.type(`kubectl get "two words" '$HOME' $USER\r`);
    await h.waitFor('ARGV=');
    assert.deepEqual(JSON.parse(shown(h.output(), 'ARGV')), ['get', 'two words', '$HOME', '$USER']);
  });

  test('Up recalls the previous command, which runs again', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    h.type('kubectl get ns\r');
    let at = await h.waitFor(`\r\n${PROMPT}`, await h.waitFor('ARGV='));
    h.type('kubectl get pods');
    at = await h.waitFor('kubectl get pods', at);
    h.type('\x03');
    at = await h.waitFor(`^C\r\n${PROMPT}`, at);
    h.type('\x1b[A');
    at = await h.waitFor(`\r${PROMPT}kubectl get ns\x1b[K`, at);
    h.type('\x1b[A'); // the Ctrl-C'd line is not history
    h.type('\r');
    at = await h.waitFor('ARGV=["get","ns"]', at);
    await h.waitFor(`\r\n${PROMPT}`, at);
    assert.deepEqual(h.recorded, ['kubectl get ns', 'kubectl get ns']);
  });

  test('Ctrl-C stops a running command and returns to the prompt', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    h.type('kubectl get wait\r');
    let at = await h.waitFor('WAITING\r\n');
    h.type('\x03');
    at = await h.waitFor('INTERRUPTED\r\n', at);
    at = await h.waitFor(`[exit 130]\r\n${PROMPT}`, at);
    h.type('kubectl get ns\r');
    await h.waitFor('ARGV=["get","ns"]', at);
  });

  test('input goes to the running command unchanged', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    h.type('kubectl get read\r');
    const at = await h.waitFor('READING\r\n');
    h.type('hello \x1b[A world\r');
    const got = await h.waitFor(/GOT=.*\r\n/, at);
    assert.equal(shown(h.output(), 'GOT', at), 'hello \x1b[A world');
    await h.waitFor(PROMPT, got);
  });

  test('a refused line is never run; it is recorded as refused, with why, and logged', async (t) => {
    const refused: [string, string][] = [];
    const h = await harness(t, { recordRefusal: async (line, why) => void refused.push([line, why]) });
    await h.waitFor(PROMPT);
    let at = h.output().length;
    h.type('kubectl get ns --server=https://evil.example\r');
    at = await h.waitFor(
      `\r\nztka: --server is not allowed here: the shell reaches only this cluster as you\r\n${PROMPT}`,
      at,
    );
    h.type('ls -la; kubectl get ns\r');
    at = await h.waitFor(
      `ztka: shell syntax is not supported: only one kubectl command per line\r\n${PROMPT}`,
      at,
    );
    h.type('kubectl proxy\r');
    at = await h.waitFor(`ztka: kubectl proxy is not available here`, at);
    await h.waitFor(PROMPT, at);
    await sleep(200);
    assert.doesNotMatch(h.output(), /ARGV=/);
    assert.deepEqual(h.recorded, []);
    const refusals = h.logs.filter((l) => l.msg === 'webshell: refused a command line');
    assert.deepEqual(
      refusals.map((l) => [l.level, l.line]),
      [
        [30, 'kubectl get ns --server=https://evil.example'],
        [30, 'ls -la; kubectl get ns'],
        [30, 'kubectl proxy'],
      ],
    );
    assert.deepEqual(
      refused.map(([line]) => line),
      ['kubectl get ns --server=https://evil.example', 'ls -la; kubectl get ns', 'kubectl proxy'],
    );
    assert.match(refused[0]?.[1] ?? '', /--server is not allowed here/);
  });

  test('the command is recorded before it runs, and a failed record stops it', async (t) => {
    let release: () => void = () => undefined;
    let fail = false;
    const calls: string[] = [];
    const h = await harness(t, {
      recordCommand: (line) => {
        calls.push(line);
        if (fail) return Promise.reject(new Error('audit store down'));
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await h.waitFor(PROMPT);
    h.type('kubectl get ns\r');
    let at = await h.waitFor('kubectl get ns\r\n');
    await sleep(300);
    assert.deepEqual(calls, ['kubectl get ns']);
    assert.doesNotMatch(h.output(), /ARGV=/, 'ran before the record was written');
    release();
    at = await h.waitFor('ARGV=["get","ns"]', at);
    at = await h.waitFor(`\r\n${PROMPT}`, at);

    fail = true;
    h.type('kubectl get pods\r');
    at = await h.waitFor(`ztka: the command could not be recorded, so it was not run\r\n${PROMPT}`, at);
    await sleep(200);
    assert.doesNotMatch(h.output().slice(at), /ARGV=/);
    assert.doesNotMatch(h.output(), /ARGV=\["get","pods"\]/);
    assert.deepEqual(calls, ['kubectl get ns', 'kubectl get pods']);
  });

  test('Ctrl-C while the command is being recorded: it does not run', async (t) => {
    let release: () => void = () => undefined;
    const h = await harness(t, { recordCommand: () => new Promise<void>((resolve) => (release = resolve)) });
    await h.waitFor(PROMPT);
    h.type('kubectl get ns\r');
    const at = await h.waitFor('kubectl get ns\r\n');
    h.type('\x03');
    // The Ctrl-C frame has nothing to show until the record settles: give it time to arrive on a busy machine.
    await sleep(500);
    release();
    await h.waitFor(`^C\r\n${PROMPT}`, at);
    await sleep(200);
    assert.doesNotMatch(h.output(), /ARGV=/);
  });

  test('the terminal size reaches kubectl, and so does a resize while it runs', async (t) => {
    const h = await harness(t);
    h.send({ type: 'resize', cols: 120, rows: 40 });
    await h.waitFor(PROMPT);
    h.type('kubectl get wait\r');
    let at = await h.waitFor('WAITING\r\n');
    assert.equal(shown(h.output(), 'SIZE'), '120x40');
    h.send({ type: 'resize', cols: 100, rows: 30 });
    at = await h.waitFor('SIZE=100x30\r\n', at);
    h.type('\x03');
    await h.waitFor(PROMPT, at);
  });

  test('malformed frames are ignored (and logged at debug); the session carries on', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    const before = h.output().length;
    const bad = [
      'not json',
      'null',
      '[]',
      '"input"',
      '{"type":"input"}',
      '{"type":"input","data":5}',
      '{"type":"resize","cols":0,"rows":10}',
      '{"type":"resize","cols":80.5,"rows":10}',
      '{"type":"resize","cols":80,"rows":1001}',
      '{"type":"shell","data":"sh\\r"}',
      JSON.stringify({ type: 'input', data: `kubectl get ${'x'.repeat(70 * 1024)}\r` }),
    ];
    for (const frame of bad) h.send(frame);
    h.client.send(Buffer.from(JSON.stringify({ type: 'input', data: 'kubectl get bin\r' })), {
      binary: true,
    });
    h.type('kubectl get ns\r');
    const at = await h.waitFor('ARGV=["get","ns"]', before);
    assert.ok(h.output().slice(before).startsWith('kubectl get ns\r\n'), 'nothing else was typed');
    await h.waitFor(PROMPT, at);
    assert.deepEqual(h.recorded, ['kubectl get ns']);
    const ignored = h.logs.filter((l) => l.msg === 'webshell: ignored a malformed frame');
    assert.equal(ignored.length, bad.length + 1);
    assert.ok(ignored.every((l) => l.level === 20));
  });

  test('a paste of several lines runs them one after another; input before the prompt waits for it', async (t) => {
    const h = await harness(t, {
      kubeconfig: async () => {
        await sleep(200);
        return 'slow\n';
      },
    });
    h.type('kubectl get a\rkubectl get b\r');
    h.type('kubectl get c\r');
    let at = await h.waitFor('ARGV=["get","a"]');
    at = await h.waitFor('ARGV=["get","b"]', at);
    at = await h.waitFor('ARGV=["get","c"]', at);
    await h.waitFor(`\r\n${PROMPT}`, at);
    assert.deepEqual(h.recorded, ['kubectl get a', 'kubectl get b', 'kubectl get c']);
  });

  test('edit keys flooding over a long line are slowed, drawn once per frame, and nothing is lost', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    const long = `kubectl get ${'x'.repeat(4000)}`;
    h.type(`${long}\r`);
    const at = await h.waitFor(`\r\n${PROMPT}`);
    // Each frame swaps a 4,000-character line in and out 300 times: about 1.2 million characters handled
    // (a Down leaves the long line); four of them pass the burst of 2 million and then 2 million a second.
    // Then a line that must still run, after every key before it.
    const flood = '\x1b[A\x1b[B'.repeat(300);
    const started = Date.now();
    for (let i = 0; i < 4; i++) h.type(flood);
    h.type('\x1b[Akubectl get after\r');
    await h.waitFor(`ARGV=["get","${'x'.repeat(4000)}kubectl","get","after"]`, at, 20_000);
    const tookMs = Date.now() - started;
    // 4.8 million, less the 2 million burst, at 2 million per second: slowed, not served at once.
    assert.ok(tookMs >= 1200, `the flood was handled in ${tookMs} ms`);
    // Drawn at most once per frame (and once per stall), not once per key.
    const drawn = h.output().length;
    assert.ok(
      drawn < 40 * long.length,
      `${drawn} characters drawn for 2,400 keys over a ${long.length}-character line`,
    );
  });

  test('the exit status shows when it is not 0; unfinished output lines are ended', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    h.type('kubectl get fail\r');
    let at = await h.waitFor(`\r\n[exit 3]\r\n${PROMPT}`);
    h.type('kubectl get nonewline\r');
    at = await h.waitFor(`no newline\r\n${PROMPT}`, at);
    assert.doesNotMatch(h.output().slice(at), /\[exit/);
  });

  test('the kubeconfig is renewed before a command once it is older than refreshAfterMs', async (t) => {
    let n = 0;
    const h = await harness(t, { refreshAfterMs: 0, kubeconfig: async () => `config ${++n}\n` });
    await h.waitFor(PROMPT);
    assert.equal(n, 1);
    h.type('kubectl get ns\r');
    let at = await h.waitFor('KUBECONFIG_CONTENT=');
    assert.equal(JSON.parse(shown(h.output(), 'KUBECONFIG_CONTENT')), 'config 2\n');
    at = await h.waitFor(PROMPT, at);
    h.type('kubectl get ns\r');
    await h.waitFor('KUBECONFIG_CONTENT=', at);
    assert.equal(JSON.parse(shown(h.output(), 'KUBECONFIG_CONTENT', at)), 'config 3\n');
  });

  test('a fresh kubeconfig is not fetched again before refreshAfterMs', async (t) => {
    let n = 0;
    const h = await harness(t, { kubeconfig: async () => `config ${++n}\n` });
    await h.waitFor(PROMPT);
    h.type('kubectl get ns\r');
    await h.waitFor('KUBECONFIG_CONTENT=');
    assert.equal(JSON.parse(shown(h.output(), 'KUBECONFIG_CONTENT')), 'config 1\n');
    assert.equal(n, 1);
  });

  test('the idle timeout ends the session: exit frame, socket closed, work dir removed, onEnd once', async (t) => {
    const h = await harness(t, { idleTimeoutMs: 600 });
    await h.waitFor(PROMPT);
    const workDir = h.workDir();
    h.type('k'); // input keeps it alive
    await sleep(250);
    h.type('\x7f');
    await sleep(250);
    assert.deepEqual(h.exits, []);
    const reason = await h.session.ended;
    assert.equal(reason, 'the shell was idle for too long');
    await h.clientClosed;
    assert.deepEqual(h.exits, [reason]);
    assert.deepEqual(h.ends, [reason]);
    assert.equal(fs.existsSync(workDir), false);
    h.session.close('again');
    await sleep(50);
    assert.deepEqual(h.ends, [reason]);
  });

  test('the maximum lifetime ends the session even with input', async (t) => {
    const h = await harness(t, { maxLifetimeMs: 2000 });
    await h.waitFor(PROMPT);
    h.type('kubectl get wait\r');
    assert.equal(await h.session.ended, 'the shell reached its maximum lifetime');
    await h.clientClosed;
    assert.equal(fs.existsSync(h.workDir()), false);
  });

  test('a command past its time limit is stopped, and the shell carries on', async (t) => {
    const h = await harness(t, { commandTimeoutMs: 3000 });
    await h.waitFor(PROMPT);
    h.type('kubectl get stubborn\r');
    const at = await h.waitFor('WAITING\r\n');
    await h.waitFor(`ztka: the command reached its time limit and was stopped\r\n`, at);
    await h.waitFor(`\r\n${PROMPT}`, at);
    h.type('kubectl get ns\r');
    await h.waitFor('ARGV=["get","ns"]', at);
  });

  test('Ctrl-D on an empty line ends the session', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    h.type('abc\x04'); // not on a non-empty line
    await sleep(100);
    assert.deepEqual(h.exits, []);
    h.type('\x03\x04');
    assert.equal(await h.session.ended, 'the shell was ended with Ctrl-D');
    await h.clientClosed;
    assert.deepEqual(h.exits, ['the shell was ended with Ctrl-D']);
  });

  test('close() ends the session with its reason', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    h.session.close('your access to this cluster has ended');
    await h.clientClosed;
    assert.deepEqual(h.exits, ['your access to this cluster has ended']);
    await h.session.ended; // the sandbox is cleaned up after the person is told
    assert.deepEqual(h.ends, ['your access to this cluster has ended']);
  });

  test('the browser going away kills a running kubectl, with SIGKILL when it ignores SIGHUP', async (t) => {
    const h = await harness(t);
    await h.waitFor(PROMPT);
    h.type('kubectl get stubborn\r');
    await h.waitFor('WAITING\r\n');
    const workDir = h.workDir();
    const uid = fs.statSync(path.join(workDir, 'home')).uid;
    assert.ok((await processesOf(uid)).length > 0);
    h.client.close();
    assert.equal(await h.session.ended, 'the browser closed the shell');
    assert.deepEqual(await processesOf(uid), [], 'nothing of the shell is left running');
    assert.equal(fs.existsSync(workDir), false);
    assert.deepEqual(h.ends, ['the browser closed the shell']);
  });

  test('a kubeconfig that cannot be had ends the session before any prompt', async (t) => {
    const h = await harness(t, { kubeconfig: () => Promise.reject(new Error('no token')) });
    assert.equal(await h.session.ended, 'the shell could not start');
    await h.clientClosed;
    assert.equal(h.output(), 'ztka: the shell could not start\r\n');
    assert.deepEqual(h.exits, ['the shell could not start']);
    assert.equal(fs.existsSync(h.workDir()), false);
  });

  test('without its sandbox tool the shell refuses to start, and runs nothing', async (t) => {
    const h = await harness(t, {}, { tools: { bwrap: '/nonexistent/bwrap' } });
    assert.equal(await h.session.ended, 'the shell could not start');
    await h.clientClosed;
    assert.equal(
      h.output(),
      'ztka: the browser shell is not available on this controller: /nonexistent/bwrap is missing or not ' +
        'executable (Debian package bubblewrap)\r\n',
    );
    assert.deepEqual(fs.readdirSync(h.workRoot), []);
  });

  test('without kubectl the shell refuses to start', async (t) => {
    const h = await harness(t, {}, { kubectl: '/nonexistent/kubectl' });
    assert.equal(await h.session.ended, 'the shell could not start');
    assert.match(h.output(), /^ztka: the browser shell is not available on this controller: kubectl /);
  });
});
