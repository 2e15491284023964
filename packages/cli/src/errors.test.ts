import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeController } from './testing/fake-controller.js';
import { startFake } from './testing/fake-controller.js';
import { makeHome, type Home } from './testing/run-cli.js';

let fake: FakeController;
let home: Home;

const apiError = (status: number, code: string, message: string, field?: string) => () => ({
  status,
  json: field === undefined ? { code, message } : { code, message, field },
});

before(async () => {
  fake = await startFake({
    'POST /v1/projects': apiError(
      400,
      'bad_request',
      'name "Bad_Name" is not a valid DNS-1123 label',
      '/name',
    ),
    'GET /v1/auth/whoami': apiError(401, 'unauthorized', 'the credential is expired or revoked'),
    'GET /v1/users': apiError(403, 'forbidden', 'this needs the ADMIN role'),
    'POST /v1/groups': apiError(409, 'conflict', 'group "devs" already exists'),
    'DELETE /v1/projects/lab': apiError(409, 'conflict', 'project "lab" still has clusters'),
    'GET /v1/settings': apiError(500, 'internal', 'internal error\n\u001b[31mred'),
  });
  home = makeHome();
  await home.login(fake.url);
});

after(async () => {
  home.remove();
  await fake.close();
});

/** The contract: exactly one `ztka: ` line on stderr, nothing on stdout. */
function assertOneLine(result: { stdout: string; stderr: string }, expected: string): void {
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, `ztka: ${expected}\n`);
}

test('API errors print their message as one line and exit 1', async () => {
  const cases: [string[], string][] = [
    [['projects', 'create', 'Bad_Name'], 'name "Bad_Name" is not a valid DNS-1123 label'],
    [['users', 'list'], 'this needs the ADMIN role'],
    [['groups', 'create', 'devs'], 'group "devs" already exists'],
    [['projects', 'delete', 'lab'], 'project "lab" still has clusters'],
    // A message cannot break the one-line rule or send escape sequences to the terminal.
    [['settings', 'get'], 'internal error ?[31mred'],
  ];
  for (const [args, message] of cases) {
    const result = await home.run(args);
    assert.equal(result.code, 1, args.join(' '));
    assertOneLine(result, message);
  }
});

test('401 tells the user to log in again', async () => {
  const result = await home.run(['whoami']);
  assert.equal(result.code, 1);
  assertOneLine(result, 'the credential is expired or revoked (run ztka login again)');
});

test('an unreachable server is named with the reason', async () => {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const other = makeHome();
  try {
    await other.login(`http://127.0.0.1:${port}`);
    const result = await other.run(['clusters', 'list']);
    assert.equal(result.code, 1);
    assertOneLine(result, `cannot reach http://127.0.0.1:${port}: connection refused`);
  } finally {
    other.remove();
  }
});

test('usage errors exit 2 with one line, before any request', async () => {
  const before = fake.requests.length;
  const cases: [string[], string][] = [
    [['frobnicate'], 'unknown command "frobnicate" (see ztka --help)'],
    [['projects', 'create'], 'missing required argument "name" (see ztka projects create --help)'],
    [
      ['clusters', 'create', 'x'],
      'required option "--project <project>" not specified (see ztka clusters create --help)',
    ],
    [['clusters'], 'missing command: ztka clusters list|create|delete|bootstrap'],
    [['clusters', 'list', '--bogus'], 'unknown option "--bogus" (see ztka clusters list --help)'],
    [
      ['settings', 'set', 'colour', 'blue'],
      'unknown setting "colour": use one of kubeconfig-validity, sa-lifetime, web-kubectl, cli-kubectl, namespace-pod-security, require-totp, sso-only, break-glass-user',
    ],
    [
      ['settings', 'set', 'sa-lifetime', '5x'],
      'sa-lifetime: invalid duration "5x": use a number of seconds or units like 30s, 15m, 8h, 30d, 1h30m',
    ],
    [
      ['api-keys', 'create', 'ci', '--validity', 'forever'],
      '--validity: invalid duration "forever": use a number of seconds or units like 30s, 15m, 8h, 30d, 1h30m',
    ],
    [['roles', 'list', '--user', 'a', '--group', 'b'], 'give --user or --group, not both'],
  ];
  for (const [args, message] of cases) {
    const result = await home.run(args);
    assert.equal(result.code, 2, args.join(' '));
    assertOneLine(result, message);
  }
  const choice = await home.run(['clusters', 'list', '-o', 'xml']);
  assert.equal(choice.code, 2);
  assert.match(
    choice.stderr,
    /^ztka: option .*"xml" is invalid\. Allowed choices are table, json, yaml\..*\n$/,
  );
  assert.equal(fake.requests.length, before);
});

test('commands need a login; --server must match it', async () => {
  const fresh = makeHome();
  try {
    const result = await fresh.run(['clusters', 'list']);
    assert.equal(result.code, 1);
    assertOneLine(result, 'not logged in: run ztka login --server URL --username U');
  } finally {
    fresh.remove();
  }
  const elsewhere = await home.run(['clusters', 'list', '--server', 'https://other.example.com']);
  assert.equal(elsewhere.code, 1);
  assertOneLine(
    elsewhere,
    `not logged in to https://other.example.com (logged in to ${fake.url}): run ztka login --server https://other.example.com --username U`,
  );
});
