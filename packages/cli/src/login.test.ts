import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Handler } from './testing/fake-controller.js';
import { startFake } from './testing/fake-controller.js';
import { makeHome } from './testing/run-cli.js';

const PASSWORD = 'correct horse battery staple';

const loginRoute: Handler = (req) => {
  const body = req.json as { username?: string; password?: string };
  if (body.password !== PASSWORD) {
    return { status: 401, json: { code: 'unauthorized', message: 'invalid username or password' } };
  }
  return {
    json: {
      user: body.username?.toLowerCase(),
      apiKey: { id: 'key-42', key: 'ztkk_key42.s3cr3t', expiresAt: '2099-01-01T00:00:00Z' },
    },
  };
};

const whoamiRoute: Handler = () => ({
  json: {
    username: 'alice@example.com',
    org: 'default',
    roles: [
      { id: 1, role: 'PROJECT_READ_ONLY', user: 'alice@example.com', project: 'desktop' },
      { id: 2, role: 'NAMESPACE_ADMIN', group: 'devs', project: 'desktop', namespaces: ['team-a', 'team-b'] },
    ],
    credential: { id: 'key-42', kind: 'api_key' },
  },
});

test('login sends the password only in the login body and stores an owner-only config', async () => {
  const fake = await startFake({
    'POST /v1/auth/login': loginRoute,
    'GET /v1/auth/whoami': whoamiRoute,
  });
  const home = makeHome();
  try {
    const login = await home.run(
      ['login', '--server', `${fake.url}/`, '--username', 'Alice@Example.com', '--password-stdin'],
      {
        input: `${PASSWORD}\n`,
      },
    );
    assert.equal(login.stderr, '');
    assert.equal(login.code, 0);
    assert.equal(login.stdout, `Logged in to ${fake.url} as alice@example.com\n`);

    const [request] = fake.requests;
    assert.deepEqual(request?.json, {
      username: 'Alice@Example.com',
      password: PASSWORD,
      client: 'cli',
      keyName: `ztka-cli@${os.hostname()}`,
    });
    assert.equal(request?.headers.authorization, undefined);

    assert.equal((await stat(home.configFile)).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(home.configFile))).mode & 0o777, 0o700);
    const stored = await readFile(home.configFile, 'utf8');
    assert.deepEqual(JSON.parse(stored), {
      server: fake.url,
      username: 'alice@example.com',
      apiKey: 'ztkk_key42.s3cr3t',
      apiKeyId: 'key-42',
    });
    assert.ok(!stored.includes(PASSWORD));

    const whoami = await home.run(['whoami']);
    assert.equal(whoami.code, 0);
    assert.equal(
      whoami.stdout,
      [
        'USERNAME     alice@example.com',
        'ORG          default',
        'ROLES        PROJECT_READ_ONLY project=desktop',
        '             NAMESPACE_ADMIN project=desktop namespaces=team-a,team-b group=devs',
        'CREDENTIAL   api_key key-42',
        '',
      ].join('\n'),
    );
    const later = fake.requests.slice(1);
    assert.equal(later.length, 1);
    for (const req of later) {
      assert.equal(req.headers.authorization, 'Bearer ztkk_key42.s3cr3t');
      assert.ok(!JSON.stringify(req.headers).includes(PASSWORD) && !req.body.includes(PASSWORD));
    }
  } finally {
    home.remove();
    await fake.close();
  }
});

test('--password-stdin drops exactly one trailing newline', async () => {
  const fake = await startFake({ 'POST /v1/auth/login': loginRoute });
  const home = makeHome();
  try {
    const result = await home.run(['login', '--server', fake.url, '--username', 'a', '--password-stdin'], {
      input: `${PASSWORD}\n\n`,
    });
    // The second newline is part of the password, which is then wrong.
    assert.equal(result.code, 1);
    assert.equal((fake.requests[0]?.json as { password: string }).password, `${PASSWORD}\n`);
  } finally {
    home.remove();
    await fake.close();
  }
});

test('a failed login prints the API message and stores nothing', async () => {
  const fake = await startFake({ 'POST /v1/auth/login': loginRoute });
  const home = makeHome();
  try {
    const result = await home.run(['login', '--server', fake.url, '--username', 'a', '--password-stdin'], {
      input: 'wrong',
    });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'ztka: invalid username or password\n');
    assert.equal(result.stdout, '');
    await assert.rejects(stat(home.configFile), { code: 'ENOENT' });
  } finally {
    home.remove();
    await fake.close();
  }
});

test('without --password-stdin and without a terminal, login refuses before sending anything', async () => {
  const fake = await startFake({ 'POST /v1/auth/login': loginRoute });
  const home = makeHome();
  try {
    const result = await home.run(['login', '--server', fake.url, '--username', 'a']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^ztka: no password: pass --password-stdin.*\n$/);
    assert.equal(fake.requests.length, 0);
  } finally {
    home.remove();
    await fake.close();
  }
});

test('--ca-file is stored and trusted by later commands; without it the self-signed server is refused', async () => {
  const fake = await startFake(
    { 'POST /v1/auth/login': loginRoute, 'GET /v1/auth/whoami': whoamiRoute },
    { tls: true },
  );
  const home = makeHome();
  try {
    const refused = await home.run(['login', '--server', fake.url, '--username', 'a', '--password-stdin'], {
      input: PASSWORD,
    });
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `ztka: cannot reach ${fake.url}: its certificate is not trusted (self-signed); log in with --ca-file\n`,
    );

    const caFile = path.join(home.dir, 'ca.pem');
    await writeFile(caFile, fake.certPem ?? '');
    const ok = await home.run(
      ['login', '--server', fake.url, '--username', 'a', '--password-stdin', '--ca-file', caFile],
      {
        input: PASSWORD,
      },
    );
    assert.equal(ok.code, 0, ok.stderr);
    const stored = JSON.parse(await readFile(home.configFile, 'utf8')) as { ca?: string };
    assert.equal(stored.ca, fake.certPem);

    const whoami = await home.run(['whoami', '-o', 'json']);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.equal((JSON.parse(whoami.stdout) as { username: string }).username, 'alice@example.com');
  } finally {
    home.remove();
    await fake.close();
  }
});

test('a config left with a loose mode is tightened to 0600 by the next login', async () => {
  const fake = await startFake({ 'POST /v1/auth/login': loginRoute });
  const home = makeHome();
  try {
    await mkdir(path.dirname(home.configFile), { recursive: true });
    await writeFile(home.configFile, JSON.stringify({ server: fake.url, username: 'old' }));
    await chmod(home.configFile, 0o644);
    const result = await home.run(['login', '--server', fake.url, '--username', 'a', '--password-stdin'], {
      input: PASSWORD,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await stat(home.configFile)).mode & 0o777, 0o600);
  } finally {
    home.remove();
    await fake.close();
  }
});

test('logout revokes the key, treats 401 as done, and keeps nothing secret', async () => {
  let logoutStatus = 204;
  const fake = await startFake({
    'POST /v1/auth/login': loginRoute,
    'POST /v1/auth/logout': () =>
      logoutStatus === 204
        ? { status: 204 }
        : { status: 401, json: { code: 'unauthorized', message: 'revoked' } },
  });
  const home = makeHome();
  try {
    for (const status of [204, 401]) {
      logoutStatus = status;
      await home.run(['login', '--server', fake.url, '--username', 'a', '--password-stdin'], {
        input: PASSWORD,
      });
      const result = await home.run(['logout']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'Logged out\n');
      const logout = fake.requests.at(-1);
      assert.equal(logout?.path, '/v1/auth/logout');
      assert.equal(logout?.headers.authorization, 'Bearer ztkk_key42.s3cr3t');
      const stored = await readFile(home.configFile, 'utf8');
      assert.ok(!stored.includes('s3cr3t'));
      assert.deepEqual(Object.keys(JSON.parse(stored) as object).sort(), ['server', 'username']);
    }
    const after = await home.run(['whoami']);
    assert.equal(after.code, 1);
    assert.equal(after.stderr, 'ztka: not logged in: run ztka login --server URL --username U\n');
  } finally {
    home.remove();
    await fake.close();
  }
});

test('logging in again revokes the key it replaces', async () => {
  let issued = 0;
  const fake = await startFake({
    'POST /v1/auth/login': () => {
      issued += 1;
      return { json: { user: 'a', apiKey: { id: `key-${issued}`, key: `ztkk_key${issued}.secret` } } };
    },
    'POST /v1/auth/logout': () => ({ status: 204 }),
  });
  const home = makeHome();
  try {
    for (let i = 0; i < 2; i++) {
      const result = await home.run(['login', '--server', fake.url, '--username', 'a', '--password-stdin'], {
        input: PASSWORD,
      });
      assert.equal(result.code, 0, result.stderr);
    }
    assert.deepEqual(
      fake.requests.map((r) => `${r.path} ${r.headers.authorization ?? ''}`.trim()),
      ['/v1/auth/login', '/v1/auth/login', '/v1/auth/logout Bearer ztkk_key1.secret'],
    );
    assert.equal(
      (JSON.parse(await readFile(home.configFile, 'utf8')) as { apiKey: string }).apiKey,
      'ztkk_key2.secret',
    );
  } finally {
    home.remove();
    await fake.close();
  }
});

test("login refuses to overwrite a file that is not a CLI config, such as the controller's", async () => {
  const fake = await startFake({ 'POST /v1/auth/login': loginRoute });
  const home = makeHome();
  try {
    const controllerConfig = 'listen: 127.0.0.1:9443\ndataDir: /var/lib/ztka\n';
    await mkdir(path.dirname(home.configFile), { recursive: true });
    await writeFile(home.configFile, controllerConfig, { mode: 0o644 });
    await chmod(home.configFile, 0o644);
    const result = await home.run(['login', '--server', fake.url, '--username', 'a', '--password-stdin'], {
      input: PASSWORD,
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `ztka: ${home.configFile} is not a ztka CLI config (not JSON): remove it, or set ZTKA_CLI_CONFIG to another path\n`,
    );
    assert.equal(await readFile(home.configFile, 'utf8'), controllerConfig);
    assert.equal((await stat(home.configFile)).mode & 0o777, 0o644);
    assert.equal(fake.requests.length, 0);
  } finally {
    home.remove();
    await fake.close();
  }
});
