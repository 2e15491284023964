// The REST API against a real controller (in this process, real SQLite file, real HTTPS): identity,
// validation at the edge, sessions and CSRF, throttling, pagination, OpenAPI, and secrets at rest.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { generateAgentKey } from '@ztka/protocol';
import { loadConfig } from '../config.js';
import { startController, type ControllerServer } from '../server.js';

interface Res<T = Record<string, unknown>> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

let server: ControllerServer;
let dir: string;
const ADMIN_PASSWORD = 'first-admin-password';

function request<T = Record<string, unknown>>(
  method: string,
  uri: string,
  opts: {
    token?: string;
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
    /** The source address (any 127.0.0.x reaches the loopback listener). */
    from?: string;
  } = {},
): Promise<Res<T>> {
  return new Promise((resolve, reject) => {
    const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    const req = https.request(
      `${server.url}${uri}`,
      {
        method,
        ca: server.caCertPem,
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON: keep the text */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body as T, text });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function login(username: string, password: string): Promise<string> {
  const res = await request<{ apiKey: { key: string } }>('POST', '/v1/auth/login', {
    body: { username, password, client: 'cli' },
  });
  assert.equal(res.status, 200, res.text);
  return res.body.apiKey.key;
}

let admin: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-api-'));
  const config = loadConfig(['--data-dir', dir, '--listen', '127.0.0.1:0'], {});
  server = await startController(config, { log: pino({ level: 'silent' }), adminPassword: ADMIN_PASSWORD });
  admin = await login('admin', ADMIN_PASSWORD);
});
after(async () => {
  await server.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('login and credentials', () => {
  test('a wrong password, an unknown user and a disabled user all get the same 401, and are recorded', async () => {
    await request('POST', '/v1/users', {
      token: admin,
      body: { username: 'off@example.com', password: 'password-1' },
    });
    await request('POST', '/v1/users/off@example.com/disable', { token: admin });
    const answers = await Promise.all(
      [
        ['admin', 'not-the-password'],
        ['nobody@example.com', 'whatever-1'],
        ['off@example.com', 'password-1'],
      ].map(([username, password]) => request('POST', '/v1/auth/login', { body: { username, password } })),
    );
    for (const res of answers)
      assert.deepEqual(
        [res.status, res.body],
        [401, { code: 'unauthorized', message: 'invalid username or password' }],
      );
    const events = await request<{ items: { event: string; user: string; detail: { reason: string } }[] }>(
      'GET',
      '/v1/audit/system?q=login_failed',
      { token: admin },
    );
    assert.deepEqual(events.body.items.map((e) => [e.user, e.detail.reason]).sort(), [
      ['admin', 'wrong password'],
      ['nobody@example.com', 'unknown user'],
      ['off@example.com', 'user disabled'],
    ]);
  });

  test('repeated failures from an address are throttled with 429 and Retry-After; the owner elsewhere gets in', async () => {
    await request('POST', '/v1/users', {
      token: admin,
      body: { username: 'guessme', password: 'right-password' },
    });
    const attempt = (password: string, from: string) =>
      request('POST', '/v1/auth/login', { body: { username: 'guessme', password }, from });
    const statuses: number[] = [];
    for (let i = 0; i < 10 && statuses.at(-1) !== 429; i++)
      statuses.push((await attempt(`wrong-${i}`, '127.0.0.2')).status);
    // Three free guesses and one after the first backoff (1 s; a slow machine may reach the next, 2 s,
    // backoff too), then the address waits.
    assert.equal(statuses.at(-1), 429, String(statuses));
    const checked = statuses.filter((s) => s === 401).length;
    assert.ok(checked >= 4 && checked <= 5, String(statuses));
    const held = await attempt('right-password', '127.0.0.2');
    assert.equal(held.status, 429);
    assert.equal(held.body['code'], 'too_many_requests');
    const retryAfter = Number(held.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 8, `Retry-After ${retryAfter}`);
    // From an address that has not failed for the account, the right password is checked and gets in.
    assert.equal((await attempt('right-password', '127.0.0.3')).status, 200);
  });

  test('a console session is an HttpOnly, Secure, SameSite cookie and its writes need the CSRF token', async () => {
    const res = await request<{ csrfToken: string }>('POST', '/v1/auth/login', {
      body: { username: 'admin', password: ADMIN_PASSWORD },
    });
    assert.equal(res.status, 200);
    const setCookie = String(res.headers['set-cookie']);
    assert.match(
      setCookie,
      /^__Host-ztka_session=ztks_[^;]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/,
    );
    const cookie = setCookie.split(';')[0] ?? '';
    assert.equal((await request('GET', '/v1/auth/whoami', { headers: { cookie } })).status, 200);
    const noCsrf = await request('POST', '/v1/projects', {
      headers: { cookie },
      body: { name: 'csrf-test' },
    });
    assert.equal(noCsrf.status, 403);
    const wrongCsrf = await request('POST', '/v1/projects', {
      headers: { cookie, 'x-csrf-token': 'x'.repeat(43) },
      body: { name: 'csrf-test' },
    });
    assert.equal(wrongCsrf.status, 403);
    const projects = await request<{ items: { name: string }[] }>('GET', '/v1/projects', { token: admin });
    assert.ok(!projects.body.items.some((p) => p.name === 'csrf-test'), 'a refused write changed nothing');
    const ok = await request('POST', '/v1/projects', {
      headers: { cookie, 'x-csrf-token': res.body.csrfToken },
      body: { name: 'csrf-test' },
    });
    assert.equal(ok.status, 201, ok.text);
    // A session is not a kube credential: a browser can never be made to call a cluster with it.
    assert.equal((await request('GET', '/k8s/clusters/any/api', { headers: { cookie } })).status, 401);
    // Logout ends the session at once.
    assert.equal(
      (await request('POST', '/v1/auth/logout', { headers: { cookie, 'x-csrf-token': res.body.csrfToken } }))
        .status,
      204,
    );
    assert.equal((await request('GET', '/v1/auth/whoami', { headers: { cookie } })).status, 401);
  });

  test('an API key works until revoked, and a disabled user loses every credential at once', async () => {
    await request('POST', '/v1/users', {
      token: admin,
      body: { username: 'keys@example.com', password: 'password-k' },
    });
    const key = await login('keys@example.com', 'password-k');
    const extra = await request<{ id: string; key: string }>('POST', '/v1/api-keys', {
      token: key,
      body: { name: 'ci' },
    });
    assert.equal(extra.status, 201);
    assert.equal((await request('GET', '/v1/auth/whoami', { token: extra.body.key })).status, 200);
    assert.equal((await request('DELETE', `/v1/credentials/${extra.body.id}`, { token: key })).status, 204);
    assert.equal((await request('GET', '/v1/auth/whoami', { token: extra.body.key })).status, 401);

    assert.equal((await request('GET', '/v1/auth/whoami', { token: key })).status, 200);
    assert.equal((await request('POST', '/v1/users/keys@example.com/disable', { token: admin })).status, 200);
    assert.equal((await request('GET', '/v1/auth/whoami', { token: key })).status, 401);
    // Enabling again does not bring old credentials back.
    assert.equal((await request('POST', '/v1/users/keys@example.com/enable', { token: admin })).status, 200);
    assert.equal((await request('GET', '/v1/auth/whoami', { token: key })).status, 401);
    assert.equal(
      (await request('GET', '/v1/auth/whoami', { token: await login('keys@example.com', 'password-k') }))
        .status,
      200,
    );
  });

  test('a user without a role sees no project, no cluster and no user, and administers nothing', async () => {
    await request('POST', '/v1/users', {
      token: admin,
      body: { username: 'nobody', password: 'password-n' },
    });
    const key = await login('nobody', 'password-n');
    assert.deepEqual((await request('GET', '/v1/projects', { token: key })).body, { items: [] });
    assert.deepEqual((await request('GET', '/v1/clusters', { token: key })).body, { items: [] });
    for (const [method, uri, body] of [
      ['GET', '/v1/users', undefined],
      ['POST', '/v1/projects', { name: 'mine' }],
      ['POST', '/v1/users', { username: 'x@y.z' }],
      ['PATCH', '/v1/settings', { webKubectl: false }],
      ['POST', '/v1/role-assignments', { user: 'nobody', role: 'ADMIN' }],
    ] as const)
      assert.equal((await request(method, uri, { token: key, body })).status, 403, `${method} ${uri}`);
    assert.equal((await request('POST', '/v1/kubeconfig', { token: key, body: {} })).status, 403);
  });
});

describe('bad input', () => {
  test("the audit trail's `last` is refused, never dropped, when no span can be read from it", async () => {
    // Dropping it would answer with the whole trail as if no span were asked for.
    for (const last of ['99999999999999999999d', '99999999999999d', '30m1h', '8H']) {
      const res = await request('GET', `/v1/audit/system?last=${last}`, { token: admin });
      assert.equal(res.status, 400, `last=${last}: ${res.text}`);
      assert.equal(res.body['code'], 'bad_request', last);
      assert.match(String(res.body['field'] ?? ''), /last/, last);
    }
    for (const last of ['1h30m', '3600', '36500d', '99999999999d']) {
      const res = await request<{ items: unknown[] }>('GET', `/v1/audit/system?last=${last}`, {
        token: admin,
      });
      assert.equal(res.status, 200, `last=${last}: ${res.text}`);
      assert.ok(res.body.items.length > 0, `last=${last} found nothing`);
    }
  });

  test('unknown fields, wrong types, bad names and missing fields are 400s naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/v1/projects', { name: 'ok', extra: 1 }, '/extra'],
      ['POST', '/v1/projects', { name: 'Not_A_Label' }, '/name'],
      ['POST', '/v1/projects', { name: 'a'.repeat(64) }, '/name'],
      ['POST', '/v1/projects', {}, '/name'],
      ['POST', '/v1/projects', { name: 42 }, '/name'],
      ['POST', '/v1/users', { username: 'bad user' }, '/username'],
      ['POST', '/v1/users', { username: 'short@pw.io', password: 'short' }, '/password'],
      ['POST', '/v1/role-assignments', { user: 'admin', role: 'KING' }, '/role'],
      ['POST', '/v1/role-assignments', { user: 'admin', role: 'PROJECT_ADMIN' }, '/project'],
      ['PATCH', '/v1/settings', { saLifetimeSeconds: 5 }, '/saLifetimeSeconds'],
      ['PATCH', '/v1/settings', { webKubectl: 'yes' }, '/webKubectl'],
      ['PATCH', '/v1/settings', { namespacePodSecurity: 'privileged' }, '/namespacePodSecurity'],
      ['GET', '/v1/users?limit=0', undefined, '/limit'],
      ['GET', '/v1/users?cursor=%%%', undefined, '/cursor'],
    ];
    for (const [method, uri, body, field] of cases) {
      const res = await request(method, uri, { token: admin, body });
      assert.equal(res.status, 400, `${method} ${uri} ${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.body['code'], 'bad_request');
      assert.equal(res.body['field'], field, `${method} ${uri} ${JSON.stringify(body)}: ${res.text}`);
      assert.ok(String(res.body['message']).length > 10);
    }
  });

  test('the Pod Security setting is off until an admin picks a level, and reads back as set', async () => {
    const get = async () => (await request('GET', '/v1/settings', { token: admin })).body;
    assert.equal((await get())['namespacePodSecurity'], 'off');
    for (const level of ['restricted', 'baseline', 'off']) {
      const res = await request('PATCH', '/v1/settings', {
        token: admin,
        body: { namespacePodSecurity: level },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body['namespacePodSecurity'], level);
      assert.equal((await get())['namespacePodSecurity'], level);
    }
  });

  test('no role assignment may name ztka-system, for a user or a group', async () => {
    assert.equal(
      (await request('POST', '/v1/projects', { token: admin, body: { name: 'jit' } })).status,
      201,
    );
    assert.equal(
      (await request('POST', '/v1/groups', { token: admin, body: { name: 'jit-ops' } })).status,
      201,
    );
    for (const subject of [{ user: 'admin' }, { group: 'jit-ops' }])
      for (const role of ['NAMESPACE_ADMIN', 'NAMESPACE_READ_ONLY']) {
        const res = await request('POST', '/v1/role-assignments', {
          token: admin,
          body: { ...subject, role, project: 'jit', namespaces: ['team-a', 'ztka-system'] },
        });
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body['field'], '/namespaces/1');
        assert.match(String(res.body['message']), /"ztka-system" holds ztka's just-in-time service accounts/);
      }
    const list = await request<{ items: unknown[] }>('GET', '/v1/role-assignments?group=jit-ops', {
      token: admin,
    });
    assert.deepEqual(list.body.items, []);
  });

  test('malformed JSON and huge bodies are refused in the one error shape', async () => {
    const broken = await request('POST', '/v1/projects', { token: admin, raw: '{"name": ' });
    assert.equal(broken.status, 400);
    assert.equal(broken.body['code'], 'bad_request');
    const huge = await request('POST', '/v1/projects', {
      token: admin,
      raw: JSON.stringify({ name: 'x'.repeat(2 << 20) }),
    });
    assert.equal(huge.status, 413);
    assert.equal(huge.body['code'], 'payload_too_large');
  });

  test('duplicates are 409s and a refused request writes nothing', async () => {
    assert.equal((await request('POST', '/v1/groups', { token: admin, body: { name: 'ops' } })).status, 201);
    const dup = await request('POST', '/v1/groups', { token: admin, body: { name: 'ops' } });
    assert.deepEqual([dup.status, dup.body['code'], dup.body['field']], [409, 'conflict', '/name']);
    await request('POST', '/v1/users', { token: admin, body: { username: 'Dup@Example.com' } });
    assert.equal(
      (await request('POST', '/v1/users', { token: admin, body: { username: 'dup@example.com' } })).status,
      409,
    );
    assert.equal(
      (await request('POST', '/v1/projects', { token: admin, body: { name: 'p-dup' } })).status,
      201,
    );
    const assign = {
      user: 'dup@example.com',
      role: 'NAMESPACE_ADMIN',
      project: 'p-dup',
      namespaces: ['b', 'a'],
    };
    assert.equal((await request('POST', '/v1/role-assignments', { token: admin, body: assign })).status, 201);
    assert.equal(
      (
        await request('POST', '/v1/role-assignments', {
          token: admin,
          body: { ...assign, namespaces: ['a', 'b', 'a'] },
        })
      ).status,
      409,
    );
    const listed = await request<{ items: unknown[] }>('GET', '/v1/role-assignments?user=dup@example.com', {
      token: admin,
    });
    assert.equal(listed.body.items.length, 1);
  });

  test('a project that still holds clusters cannot be deleted, and stays whole', async () => {
    await request('POST', '/v1/projects', { token: admin, body: { name: 'busy' } });
    assert.equal(
      (await request('POST', '/v1/clusters', { token: admin, body: { name: 'busy-1', project: 'busy' } }))
        .status,
      201,
    );
    const res = await request('DELETE', '/v1/projects/busy', { token: admin });
    assert.equal(res.status, 409);
    assert.equal((await request('GET', '/v1/clusters/busy-1', { token: admin })).status, 200);
    assert.equal((await request('DELETE', '/v1/clusters/busy-1', { token: admin })).status, 204);
    assert.equal((await request('DELETE', '/v1/projects/busy', { token: admin })).status, 204);
  });
});

describe('clusters', () => {
  test("a cluster's identity (its kube-system UID) is shown to org admins only", async () => {
    const uid = '3f6b1a52-8c1e-4f7a-9d2b-0a1b2c3d4e5f';
    await request('POST', '/v1/projects', { token: admin, body: { name: 'seen' } });
    const created = await request<{ bootstrapToken: { token: string } }>('POST', '/v1/clusters', {
      token: admin,
      body: { name: 'seen-1', project: 'seen' },
    });
    const registered = await request('POST', '/v1/agents/register', {
      body: {
        token: created.body.bootstrapToken.token,
        identity: uid,
        publicKey: generateAgentKey().publicKey,
      },
    });
    assert.equal(registered.status, 200, registered.text);
    const person = async (username: string, role: string, project?: string) => {
      await request('POST', '/v1/users', { token: admin, body: { username, password: 'password-1' } });
      const assigned = await request('POST', '/v1/role-assignments', {
        token: admin,
        body: { user: username, role, ...(project ? { project } : {}) },
      });
      assert.equal(assigned.status, 201, assigned.text);
      return login(username, 'password-1');
    };
    const seen = async (token: string) => {
      const one = await request<Record<string, unknown>>('GET', '/v1/clusters/seen-1', { token });
      const list = await request<{ items: Record<string, unknown>[] }>('GET', '/v1/clusters?project=seen', {
        token,
      });
      assert.equal(one.status, 200, one.text);
      return [one.body['identity'], list.body.items[0]?.['identity']];
    };
    assert.deepEqual(await seen(admin), [uid, uid]);
    for (const token of [
      await person('seen-viewer@example.com', 'PROJECT_READ_ONLY', 'seen'),
      await person('seen-admin@example.com', 'PROJECT_ADMIN', 'seen'),
      await person('seen-auditor@example.com', 'ADMIN_READ_ONLY'),
    ])
      assert.deepEqual(await seen(token), [undefined, undefined]);
  });
});

describe('lists and documents', () => {
  test('cursor pagination walks every item once, in order', async () => {
    for (let i = 0; i < 7; i++)
      await request('POST', '/v1/users', { token: admin, body: { username: `page-${i}@example.com` } });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await request<{ items: { username: string }[]; nextCursor?: string }>(
        'GET',
        `/v1/users?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        { token: admin },
      );
      assert.equal(res.status, 200);
      assert.ok(res.body.items.length <= 3);
      seen.push(...res.body.items.map((u) => u.username));
      cursor = res.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, [...seen].sort());
    assert.equal(new Set(seen).size, seen.length);
    for (let i = 0; i < 7; i++) assert.ok(seen.includes(`page-${i}@example.com`));
  });

  test('the OpenAPI document describes the routes from the schemas they validate with', async () => {
    const res = await request<{
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    }>('GET', '/v1/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, '3.1.0');
    for (const p of [
      '/v1/auth/login',
      '/v1/users',
      '/v1/role-assignments',
      '/v1/kubeconfig',
      '/v1/tokens',
      '/v1/settings',
    ])
      assert.ok(res.body.paths[p], `missing ${p}`);
    const schema = JSON.stringify(res.body.paths['/v1/projects']?.['post']?.requestBody);
    assert.match(schema, /additionalProperties/);
    assert.ok(!Object.keys(res.body.paths).some((p) => p.startsWith('/k8s')));
  });
});

test('no password, API key, session or kube token is stored in plain text', async () => {
  const user = { username: 'atrest@example.com', password: 'plain-text-password-42' };
  await request('POST', '/v1/users', { token: admin, body: user });
  await request('POST', '/v1/role-assignments', {
    token: admin,
    body: { user: user.username, role: 'ADMIN' },
  });
  const key = await login(user.username, user.password);
  const session = await request('POST', '/v1/auth/login', { body: user });
  const cookie = String(session.headers['set-cookie']).split(';')[0]?.split('=')[1] ?? '';
  await request('POST', '/v1/projects', { token: key, body: { name: 'atrest' } });
  await request('POST', '/v1/clusters', { token: key, body: { name: 'atrest-1', project: 'atrest' } });
  const kubeconfig = await request('POST', '/v1/kubeconfig', { token: key, body: { cluster: 'atrest-1' } });
  const kubeToken = /token: (\S+)/.exec(kubeconfig.text)?.[1] ?? '';
  const token = await request<{ token: string }>('POST', '/v1/tokens', {
    token: key,
    body: { cluster: 'atrest-1' },
  });
  const secrets = [user.password, key, cookie, kubeToken, token.body.token];
  for (const s of secrets) assert.ok(s.length > 20, `secret captured: ${s}`);

  // Everything SQLite holds, WAL included.
  const files = (await fs.readdir(dir)).filter((f) => f.startsWith('ztka.db'));
  const bytes = Buffer.concat(await Promise.all(files.map((f) => fs.readFile(path.join(dir, f)))));
  for (const s of secrets) {
    assert.equal(bytes.indexOf(s), -1, 'a whole secret is on disk');
    const secretPart = s.includes('.') ? s.slice(s.indexOf('.') + 1) : s;
    assert.equal(bytes.indexOf(secretPart), -1, 'the secret part of a token is on disk');
  }
});
