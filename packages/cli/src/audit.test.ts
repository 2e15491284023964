import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import YAML from 'yaml';
import type { FakeController, RecordedRequest, Reply } from './testing/fake-controller.js';
import { startFake } from './testing/fake-controller.js';
import { makeHome, TEST_API_KEY, type Home } from './testing/run-cli.js';

const T0 = Date.UTC(2025, 0, 31, 8, 0, 5, 678);

const API_RECORDS = [
  {
    kind: 'api',
    id: 'a1',
    seq: 14,
    stage: 'ResponseComplete',
    at: T0,
    endedAt: T0 + 12,
    user: 'alice',
    role: 'ADMIN',
    cluster: 'desktop',
    channel: 'cli',
    method: 'GET',
    requestURI: '/api/v1/namespaces/default/pods/web-0',
    verb: 'get',
    objectRef: { apiVersion: 'v1', resource: 'pods', namespace: 'default', name: 'web-0' },
    sourceIPs: ['10.0.0.1'],
    status: 200,
    durationMs: 12.4,
  },
  {
    kind: 'api',
    id: 'a2',
    seq: 13,
    stage: 'ResponseStarted',
    at: T0 - 60_000,
    user: 'bob',
    cluster: 'edge-7',
    channel: 'web-shell',
    method: 'POST',
    requestURI: '/api/v1/namespaces/team-a/pods/db-0/exec?command=sh',
    verb: 'create',
    objectRef: { apiVersion: 'v1', resource: 'pods', namespace: 'team-a', name: 'db-0', subresource: 'exec' },
    sourceIPs: ['10.0.0.2'],
    status: 101,
    command: ['sh'],
  },
  {
    kind: 'api',
    id: 'a3',
    seq: 12,
    stage: 'ResponseComplete',
    at: T0 - 3_600_000,
    user: null,
    cluster: 'desktop',
    method: 'GET',
    requestURI: '/version',
    verb: 'get',
    sourceIPs: ['203.0.113.9'],
    status: 401,
    reason: 'no credential',
    durationMs: 0,
  },
];

const HOSTILE =
  'kubectl get pods\u001b]0;owned\u0007\u001b[2J\r\n<script>alert(1)</script> [red]x[/red] \u009b31m \u202eexe.txt';
const HUGE = `kubectl apply -f - <<EOF\n${'metadata: {name: x}\n'.repeat(52_429)}EOF`; // ≈ 1 MiB

const COMMANDS = [
  {
    source: 'shell',
    at: '2025-01-31T08:00:05.678Z',
    user: 'alice',
    cluster: 'desktop',
    channel: 'web-shell',
    command: HOSTILE,
    clientReported: false,
    sessionId: 's-1',
  },
  {
    source: 'shell',
    at: T0 - 1000,
    user: 'alice',
    cluster: 'desktop',
    channel: 'web-shell',
    command: HUGE,
    clientReported: false,
  },
  {
    source: 'kubectl',
    at: T0 - 2000,
    user: 'bob',
    cluster: 'edge-7',
    channel: 'cli',
    command: 'kubectl get pods -A',
    clientReported: true,
    kubectlSession: 'ks-1',
    calls: 3,
    operations: ['get (non-resource)', 'delete namespaces'],
  },
  {
    source: 'shell',
    at: T0 - 3000,
    user: 'alice',
    cluster: 'desktop',
    channel: 'web-shell',
    command: 'kubectl get ns --as=admin',
    clientReported: false,
    refused: '--as is not allowed here',
  },
];

const SYSTEM = [
  {
    kind: 'system',
    id: 's3',
    seq: 3,
    at: T0,
    event: 'login_failed',
    user: null,
    sourceIp: '203.0.113.9',
    detail: { username: 'mallory\u001b[31m' },
  },
  {
    kind: 'system',
    id: 's2',
    seq: 2,
    at: T0 - 5000,
    event: 'role_assigned',
    user: 'root',
    sourceIp: '10.0.0.1',
    detail: { role: 'ADMIN', user: 'bob' },
  },
  { kind: 'system', id: 's1', seq: 1, at: T0 - 9000, event: 'login', user: 'alice', detail: {} },
];

/** A page of `all` from `?cursor=<offset>`, at most `maxPage` items or the limit asked for. */
function pageOf(all: readonly unknown[], req: RecordedRequest, maxPage: number): Reply {
  const offset = Number(req.query.get('cursor') ?? '0');
  const count = Math.min(Number(req.query.get('limit') ?? '100'), maxPage);
  const next = offset + count;
  return {
    json: { items: all.slice(offset, next), ...(next < all.length ? { nextCursor: String(next) } : {}) },
  };
}

const MANY = Array.from({ length: 1000 }, (_, i) => ({ ...API_RECORDS[0], id: `m${i}`, seq: 1000 - i }));

let fake: FakeController;
let home: Home;
let verifyAnswer: Reply = { json: { ok: true, checked: 1234 } };
let exportReply: () => Reply = () => ({ text: '' });
let verifyWith: (req: RecordedRequest) => Reply = () => ({ json: { ok: true, checked: 1 } });
const CHECKPOINT = {
  type: 'head',
  org: 'org-1',
  seq: 1234,
  hash: 'a'.repeat(64),
  at: Date.UTC(2025, 0, 31, 8),
  keyId: '0123456789abcdef',
  signature: 'c2ln',
};

before(async () => {
  fake = await startFake({
    'GET /v1/audit/api': (req) =>
      req.query.get('cluster') === 'many' ? pageOf(MANY, req, 3) : pageOf(API_RECORDS, req, 500),
    'GET /v1/audit/commands': () => ({ json: { items: COMMANDS } }),
    'GET /v1/audit/system': (req) => {
      if (req.query.get('cluster') === 'many') return pageOf(MANY, req, 500);
      return { json: { items: req.query.get('user') === 'nobody' ? [] : SYSTEM } };
    },
    'GET /v1/audit/verify': () => verifyAnswer,
    'POST /v1/audit/verify': (req) => verifyWith(req),
    'POST /v1/audit/checkpoint': () => ({ json: CHECKPOINT }),
    'GET /v1/audit/export': () => exportReply(),
  });
  home = makeHome();
  await home.login(fake.url);
});

after(async () => {
  home.remove();
  await fake.close();
});

const lastRequest = (p: string): RecordedRequest | undefined =>
  fake.requests.filter((r) => r.path === p).at(-1);

test('every filter maps to its query parameter', async () => {
  const result = await home.run([
    'audit',
    'api',
    '--last',
    '24h',
    '--project',
    'lab',
    '--cluster',
    'desktop',
    '--user',
    'bob',
    '--namespace',
    'default',
    '--resource',
    'pods',
    '--verb',
    'delete',
    '--status',
    '4xx',
    '--channel',
    'web-shell',
    '--session',
    's-1',
    '--kubectl-session',
    'ks-9',
    '--search',
    'rm -rf',
    '--until',
    '2025-01-31T09:00:00+01:00',
    '-o',
    'json',
  ]);
  assert.equal(result.code, 0, result.stderr);
  const req = lastRequest('/v1/audit/api');
  assert.equal(req?.headers.authorization, `Bearer ${TEST_API_KEY}`);
  assert.deepEqual(Object.fromEntries(req?.query ?? []), {
    last: '24h',
    project: 'lab',
    cluster: 'desktop',
    user: 'bob',
    namespace: 'default',
    resource: 'pods',
    verb: 'delete',
    status: '4xx',
    channel: 'web-shell',
    session: 's-1',
    kubectlSession: 'ks-9',
    q: 'rm -rf',
    until: '2025-01-31T08:00:00.000Z',
    limit: '50',
  });
});

test('--since and --until take a duration meaning that long ago', async () => {
  for (const kind of ['api', 'system', 'commands']) {
    const before = Date.now();
    const result = await home.run(['audit', kind, '--since', '2h', '--until', '90m', '-o', 'json']);
    const after = Date.now();
    assert.equal(result.code, 0, result.stderr);
    const query = lastRequest(`/v1/audit/${kind}`)?.query;
    const since = query?.get('since') ?? '';
    const until = query?.get('until') ?? '';
    assert.match(since, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.ok(Date.parse(since) >= before - 7_200_000 && Date.parse(since) <= after - 7_200_000, since);
    assert.ok(Date.parse(until) >= before - 5_400_000 && Date.parse(until) <= after - 5_400_000, until);
  }
});

test('bad filters are usage errors, before any request', async () => {
  const before = fake.requests.length;
  const cases: [string[], string][] = [
    [
      ['audit', 'api', '--since', 'yesterday'],
      '--since: invalid time "yesterday": use an ISO-8601 time like 2025-01-31T08:00:00Z or a duration ago like 2h',
    ],
    [['audit', 'commands', '--limit', '0'], '--limit: invalid number "0": use a whole number from 1'],
    [['audit', 'system', '--last', '1h', '--since', '2h'], 'give --last or --since, not both'],
    [['audit', 'export'], 'required option "--format <format>" not specified (see ztka audit export --help)'],
    [['audit'], 'missing command: ztka audit api|system|commands|verify|checkpoint|export'],
  ];
  for (const [args, message] of cases) {
    const result = await home.run(args);
    assert.equal(result.code, 2, args.join(' '));
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, `ztka: ${message}\n`, args.join(' '));
  }
  const channel = await home.run(['audit', 'api', '--channel', 'ssh']);
  assert.equal(channel.code, 2);
  assert.match(
    channel.stderr,
    /^ztka: option .*"ssh" is invalid\. Allowed choices are cli, web-shell\..*\n$/,
  );
  assert.equal(fake.requests.length, before);
});

test('--limit is reached across pages and no further page is fetched', async () => {
  const first = fake.requests.length;
  const result = await home.run(['audit', 'api', '--cluster', 'many', '--limit', '7', '-o', 'json']);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    (JSON.parse(result.stdout) as { id: string }[]).map((r) => r.id),
    ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'],
  );
  assert.deepEqual(
    fake.requests.slice(first).map((r) => [r.query.get('limit'), r.query.get('cursor')]),
    [
      ['7', null],
      ['4', '3'],
      ['1', '6'],
    ],
  );

  // Pages of at most 500; the list ending first ends the paging.
  const second = fake.requests.length;
  const all = await home.run(['audit', 'system', '--cluster', 'many', '--limit', '1200', '-o', 'json']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal((JSON.parse(all.stdout) as unknown[]).length, 1000);
  assert.deepEqual(
    fake.requests.slice(second).map((r) => [r.query.get('limit'), r.query.get('cursor')]),
    [
      ['500', null],
      ['500', '500'],
    ],
  );

  // The default is 50.
  const third = fake.requests.length;
  const fifty = await home.run(['audit', 'api', '--cluster', 'many', '-o', 'yaml']);
  assert.equal((YAML.parse(fifty.stdout) as unknown[]).length, 50);
  assert.equal(fake.requests.length - third, 17);
});

test('audit api prints a table in UTC, with the resource path or request URI', async () => {
  const result = await home.run(['audit', 'api']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    [
      'TIME                   USER    CLUSTER   VERB     RESOURCE                STATUS   CHANNEL     STAGE              DURATION',
      '2025-01-31T08:00:05Z   alice   desktop   get      default/pods/web-0      200      cli         ResponseComplete   12ms',
      '2025-01-31T07:59:05Z   bob     edge-7    create   team-a/pods/db-0/exec   101      web-shell   ResponseStarted    -',
      '2025-01-31T07:00:05Z   -       desktop   get      /version                401      -           ResponseComplete   0ms',
      '',
    ].join('\n'),
  );
  const yaml = await home.run(['audit', 'api', '-o', 'yaml']);
  assert.deepEqual(YAML.parse(yaml.stdout), API_RECORDS);
});

test('audit system shows each event with its detail as compact JSON', async () => {
  const result = await home.run(['audit', 'system']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    [
      'TIME                   EVENT           USER    SOURCE IP     DETAIL',
      '2025-01-31T08:00:05Z   login_failed    -       203.0.113.9   {"username":"mallory\\u001b[31m"}',
      '2025-01-31T08:00:00Z   role_assigned   root    10.0.0.1      {"role":"ADMIN","user":"bob"}',
      '2025-01-31T07:59:56Z   login           alice   -             {}',
      '',
    ].join('\n'),
  );
});

test('audit commands keeps hostile and huge command lines to one short safe line each', async () => {
  const result = await home.run(['audit', 'commands']);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 1 + COMMANDS.length);
  for (const line of lines) assert.ok(line.length < 280, `${line.length} characters`);
  // Nothing a terminal would act on, and nothing that reorders the text around it.
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(result.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  const pad = ' '.repeat('get (non-resource), delete namespaces   '.length - 'SERVER SAW'.length);
  assert.equal(
    lines[0],
    `TIME                   USER    CLUSTER   CHANNEL     SOURCE    CALLS   SERVER SAW${pad}COMMAND`,
  );
  assert.equal(
    lines[1],
    `2025-01-31T08:00:05Z   alice   desktop   web-shell   shell     -       -${' '.repeat(pad.length + 9)}` +
      'kubectl get pods?]0;owned??[2J <script>alert(1)</script> [red]x[/red] ?31m ?exe.txt',
  );
  assert.match(
    lines[2] ?? '',
    /^2025-01-31T08:00:04Z {3}alice {3}desktop {3}web-shell {3}shell {5}- {7}- +kubectl apply -f - <<EOF metadata: \{name: x\} .*…$/,
  );
  // What kubectl claimed is marked as such, beside what the server saw the requests do.
  assert.equal(
    lines[3],
    '2025-01-31T08:00:03Z   bob     edge-7    cli         kubectl   3       ' +
      'get (non-resource), delete namespaces   (client-reported) kubectl get pods -A',
  );
  // A line the shell refused says so, and why.
  assert.match(lines[4] ?? '', /\(refused: --as is not allowed here\) kubectl get ns --as=admin$/);

  // JSON keeps every command whole, with the unsafe characters escaped rather than raw.
  const json = await home.run(['audit', 'commands', '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), COMMANDS);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(json.stdout, /[\u001b\u009b\u202e]/);
  assert.ok(json.stdout.length > HUGE.length);
});

test('an empty list says so on stderr', async () => {
  const empty = await home.run(['audit', 'system', '--user', 'nobody']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, '');
  assert.equal(empty.stderr, 'No system events found.\n');
  assert.equal((await home.run(['audit', 'system', '--user', 'nobody', '-o', 'json'])).stdout, '[]\n');
});

test('audit verify: ok exits 0 with the count; a broken trail exits 1 naming the record', async () => {
  verifyAnswer = { json: { ok: true, checked: 1234 } };
  const ok = await home.run(['audit', 'verify']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'audit trail verified: 1234 records (no signed checkpoint yet)\n');
  assert.equal(ok.stderr, '');
  const okJson = await home.run(['audit', 'verify', '-o', 'json']);
  assert.equal(okJson.code, 0);
  assert.deepEqual(JSON.parse(okJson.stdout), { ok: true, checked: 1234 });

  const broken = {
    ok: false,
    checked: 41,
    firstBad: {
      seq: 42,
      id: 'rec-42',
      problem: 'modified',
      message: 'record 42 does not match its hash\n\u001b[2J',
    },
  };
  verifyAnswer = { json: broken };
  const bad = await home.run(['audit', 'verify']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, '');
  assert.equal(
    bad.stderr,
    'ztka: audit trail broken at record 42 (rec-42): record 42 does not match its hash ?[2J\n',
  );
  const badJson = await home.run(['audit', 'verify', '-o', 'json']);
  assert.equal(badJson.code, 1);
  assert.deepEqual(JSON.parse(badJson.stdout), broken);
  assert.equal(badJson.stderr, bad.stderr);

  verifyAnswer = { status: 403, json: { code: 'forbidden', message: 'this needs an admin role' } };
  const refused = await home.run(['audit', 'verify']);
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, 'ztka: this needs an admin role\n');
});

test('audit checkpoint prints one JSON line; verify --checkpoint sends the newest head line of a file', async () => {
  const printed = await home.run(['audit', 'checkpoint']);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout, `${JSON.stringify(CHECKPOINT)}\n`);

  // A file of checkpoint lines, as the controller's file or a webhook keeps them: the newest head counts.
  const file = path.join(home.dir, 'checkpoints.jsonl');
  const older = { ...CHECKPOINT, seq: 1000 };
  const prune = { ...CHECKPOINT, type: 'prune', seq: 5 };
  await writeFile(file, `${JSON.stringify(older)}\n${printed.stdout}${JSON.stringify(prune)}\n`);
  let sent: unknown;
  verifyWith = (req) => {
    sent = req.json;
    return { json: { ok: true, checked: 1234, anchor: { seq: 1234, at: CHECKPOINT.at } } };
  };
  const ok = await home.run(['audit', 'verify', '--checkpoint', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(sent, { checkpoint: CHECKPOINT });
  assert.equal(
    ok.stdout,
    'audit trail verified: 1234 records, up to and past the signed checkpoint of 2025-01-31T08:00:00.000Z (record 1234)\n',
  );

  // A server that answers ok without having used the checkpoint is not believed.
  verifyWith = () => ({ json: { ok: true, checked: 1234 } });
  const unanchored = await home.run(['audit', 'verify', '--checkpoint', file]);
  assert.equal(unanchored.code, 1);
  assert.match(unanchored.stderr, /did not check the trail against the checkpoint/);

  verifyWith = () => ({
    json: {
      ok: false,
      checked: 9,
      firstBad: { seq: 1234, problem: 'truncated', message: 'records 10–1234 are missing' },
    },
  });
  const cut = await home.run(['audit', 'verify', '--checkpoint', file]);
  assert.equal(cut.code, 1);
  assert.equal(cut.stderr, 'ztka: audit trail broken at record 1234: records 10–1234 are missing\n');

  const none = path.join(home.dir, 'none.jsonl');
  await writeFile(none, 'not a checkpoint\n');
  const refused = await home.run(['audit', 'verify', '--checkpoint', none]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /holds no audit checkpoint/);
});

test('audit export streams a large body to an owner-only file, byte for byte', async () => {
  const file = path.join(home.dir, 'audit.jsonl');
  await writeFile(file, 'old');
  await chmod(file, 0o644);
  const CHUNK = 1024 * 1024;
  const CHUNKS = 20;
  const sent = createHash('sha256');
  let wroteWhileSending = false;
  exportReply = () => ({
    contentType: 'application/x-ndjson',
    stream: (async function* () {
      for (let i = 0; i < CHUNKS; i++) {
        const chunk = Buffer.alloc(CHUNK, `{"kind":"api","n":${i},"requestURI":"/api/v1/pods"}\n`);
        sent.update(chunk);
        yield chunk;
        if (i === 1) {
          // The rest is held back until ztka has written the start: a CLI that buffered would wait forever.
          const deadline = Date.now() + 15_000;
          while (((await stat(file).catch(() => undefined))?.size ?? 0) < CHUNK) {
            if (Date.now() > deadline) throw new Error('nothing written while the export was arriving');
            await sleep(10);
          }
          wroteWhileSending = true;
        }
      }
    })(),
  });
  const result = await home.run([
    'audit',
    'export',
    '--format',
    'jsonl',
    '--kind',
    'command',
    '--cluster',
    'desktop',
    '--search',
    'delete',
    '-f',
    file,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `Wrote ${CHUNK * CHUNKS} bytes of audit records to ${file}\n`);
  assert.ok(wroteWhileSending);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(file)).size, CHUNK * CHUNKS);
  assert.equal(
    createHash('sha256')
      .update(await readFile(file))
      .digest('hex'),
    sent.digest('hex'),
  );
  const query = lastRequest('/v1/audit/export')?.query;
  assert.deepEqual(Object.fromEntries(query ?? []), {
    cluster: 'desktop',
    q: 'delete',
    format: 'jsonl',
    kind: 'command',
  });
});

test('audit export without -f writes the body to stdout unchanged', async () => {
  const CSV = 'seq,at,user,event\n1,2025-01-31T08:00:00Z,alice,"login, ""cli"""\n';
  exportReply = () => ({ text: CSV, contentType: 'text/csv; charset=utf-8' });
  const result = await home.run([
    'audit',
    'export',
    '--format',
    'csv',
    '--kind',
    'system',
    '--user',
    'alice',
    '--since',
    '2025-01-01',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, CSV);
  const req = lastRequest('/v1/audit/export');
  assert.deepEqual(Object.fromEntries(req?.query ?? []), {
    user: 'alice',
    since: '2025-01-01T00:00:00.000Z',
    format: 'csv',
    kind: 'system',
  });
  assert.equal(req?.headers.accept, 'text/csv, application/json');
});

test('a refused export is one error line and leaves the file alone', async () => {
  exportReply = () => ({
    status: 403,
    json: { code: 'forbidden', message: 'this needs the ADMIN or ADMIN_READ_ONLY role' },
  });
  const file = path.join(home.dir, 'kept.csv');
  await writeFile(file, 'earlier export\n');
  for (const args of [[], ['-f', file]]) {
    const result = await home.run(['audit', 'export', '--format', 'csv', ...args]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'ztka: this needs the ADMIN or ADMIN_READ_ONLY role\n');
  }
  assert.equal(await readFile(file, 'utf8'), 'earlier export\n');
  const missing = path.join(home.dir, 'never.csv');
  await home.run(['audit', 'export', '--format', 'csv', '-f', missing]);
  await assert.rejects(stat(missing), { code: 'ENOENT' });
});

test('an export cut off mid-body fails with one line', async () => {
  exportReply = () => ({
    stream: (async function* () {
      yield Buffer.alloc(64 * 1024, 'x');
      await sleep(50);
      throw new Error('database went away');
    })(),
  });
  const file = path.join(home.dir, 'cut.jsonl');
  const result = await home.run(['audit', 'export', '--format', 'jsonl', '-f', file]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.equal(
    result.stderr,
    `ztka: the export from ${fake.url} broke off: connection reset; ${file} is incomplete\n`,
  );
});
