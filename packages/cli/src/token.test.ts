import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FakeController } from './testing/fake-controller.js';
import { startFake } from './testing/fake-controller.js';
import { makeHome, TEST_API_KEY, type Home } from './testing/run-cli.js';
import { tokenCachePath } from './exec-credential.js';

let fake: FakeController;
let home: Home;
let issued = 0;
let lifetimeMs = 15 * 60_000;

before(async () => {
  fake = await startFake({
    'POST /v1/tokens': (req) => {
      const { cluster } = req.json as { cluster: string };
      if (cluster === 'forbidden') {
        return { status: 403, json: { code: 'forbidden', message: 'you may not reach cluster "forbidden"' } };
      }
      issued += 1;
      return {
        json: { token: `kube-token-${issued}`, expiresAt: new Date(Date.now() + lifetimeMs).toISOString() },
      };
    },
  });
  home = makeHome();
  await home.login(fake.url);
});

beforeEach(() => {
  lifetimeMs = 15 * 60_000;
});

after(async () => {
  home.remove();
  await fake.close();
});

interface Credential {
  apiVersion: string;
  kind: string;
  status: { token: string; expirationTimestamp: string };
}

async function token(cluster: string, env: Record<string, string> = {}): Promise<Credential> {
  const result = await home.run(['token', '--cluster', cluster], { env });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  // Exactly one JSON object on stdout, nothing else.
  assert.equal(result.stdout.trim().split('\n').length, 1);
  return JSON.parse(result.stdout) as Credential;
}

test('token prints an ExecCredential from POST /v1/tokens', async () => {
  const cred = await token('desktop');
  assert.equal(cred.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(cred.kind, 'ExecCredential');
  assert.match(cred.status.token, /^kube-token-\d+$/);
  assert.match(cred.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const expiresIn = Date.parse(cred.status.expirationTimestamp) - Date.now();
  assert.ok(expiresIn > 14 * 60_000 && expiresIn <= 15 * 60_000, String(expiresIn));
  const req = fake.requests.at(-1);
  assert.deepEqual(req?.json, { cluster: 'desktop' });
  assert.equal(req?.headers.authorization, `Bearer ${TEST_API_KEY}`);
});

test('a fresh token is cached owner-only and reused without asking the controller', async () => {
  const first = await token('cached');
  const requests = fake.requests.length;
  const second = await token('cached');
  assert.equal(second.status.token, first.status.token);
  assert.equal(fake.requests.length, requests);

  const dir = path.join(home.cacheDir, 'ztka', 'tokens');
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  for (const name of await readdir(dir)) {
    assert.equal((await stat(path.join(dir, name))).mode & 0o777, 0o600);
  }
  // Another cluster on the same server gets its own token.
  assert.notEqual((await token('other')).status.token, first.status.token);
});

test('a token near its expiry is replaced', async () => {
  const file = tokenCachePath(fake.url, 'aging', path.join(home.cacheDir, 'ztka', 'tokens'));
  await mkdir(path.dirname(file), { recursive: true });
  const write = (issuedAgoMs: number, expiresInMs: number, apiKeyId = 'key-1'): Promise<void> =>
    writeFile(
      file,
      JSON.stringify({
        server: fake.url,
        cluster: 'aging',
        apiKeyId,
        token: 'cached-token',
        issuedAt: new Date(Date.now() - issuedAgoMs).toISOString(),
        expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
      }),
      { mode: 0o600 },
    );

  await write(14 * 60_000, 5 * 60_000);
  assert.equal((await token('aging')).status.token, 'cached-token');

  await write(14 * 60_000, 30_000); // under a minute left
  assert.notEqual((await token('aging')).status.token, 'cached-token');
  // The new token replaced the old one in the cache.
  assert.match((JSON.parse(await readFile(file, 'utf8')) as { token: string }).token, /^kube-token-/);

  await write(60_000, 40_000); // a 100 s token with 40 s left: over a quarter, keep
  assert.equal((await token('aging')).status.token, 'cached-token');
  await write(85_000, 15_000); // a 100 s token with 15 s left: under a quarter, replace
  assert.notEqual((await token('aging')).status.token, 'cached-token');

  await write(60_000, 10 * 60_000, 'someone-elses-key'); // fetched with another login
  assert.notEqual((await token('aging')).status.token, 'cached-token');
});

test('short-lived tokens are refetched once three quarters of their life is gone', async () => {
  // Long enough that a slow machine starts the CLI twice well within three quarters of it (6 s).
  lifetimeMs = 8_000;
  const issued = Date.now();
  const first = await token('short');
  assert.equal((await token('short')).status.token, first.status.token);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, issued + 6_200 - Date.now())));
  assert.notEqual((await token('short')).status.token, first.status.token);
});

test('KUBERNETES_EXEC_INFO picks the apiVersion; garbage in it is ignored', async () => {
  const beta = await token('desktop', {
    KUBERNETES_EXEC_INFO: JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    }),
  });
  assert.equal(beta.apiVersion, 'client.authentication.k8s.io/v1beta1');
  assert.equal(
    (await token('desktop', { KUBERNETES_EXEC_INFO: '{oops' })).apiVersion,
    'client.authentication.k8s.io/v1',
  );
});

test('a refused token leaves stdout empty and explains on stderr', async () => {
  const result = await home.run(['token', '--cluster', 'forbidden']);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, 'ztka: you may not reach cluster "forbidden"\n');
});
