// The local login policy against the real controller, a real agent and the real apiserver: TOTP second
// factors (enrolment, login with a code, wrong and replayed codes refused and recorded, removal and an
// admin's reset), an org that requires TOTP (an enrolment token and nothing more until a code is enrolled),
// and an org that signs in with single sign-on (password logins refused but for the break-glass admin,
// every local credential revoked the moment it is turned on).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { Secret, TOTP } from 'otpauth';
import { kubeconfigToken, testEnv, Ztka, type TestEnv } from '@ztka/testenv';
import fs from 'node:fs/promises';

const CLUSTER = 'desktop';

let env: TestEnv;
let z: Ztka;

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
});
after(async () => {
  await z?.stop();
});

interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  text: string;
}

/** One JSON request, from a chosen loopback address (any 127.0.0.x) so that the login throttle of one
 * step does not hold the next. */
function call<T = Record<string, unknown>>(
  method: string,
  uri: string,
  opts: { from?: string; token?: string; body?: unknown } = {},
): Promise<Answer<T>> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${z.url}${uri}`,
      {
        method,
        ca: z.ca,
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          // A length always: Node sends a DELETE's body unframed otherwise.
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: (text.startsWith('{') ? JSON.parse(text) : {}) as T,
            text,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

let nextAddress = 10;
/** A loopback address no earlier login came from. */
const fresh = () => `127.0.1.${nextAddress++}`;

const login = (username: string, password: string, extra: { totp?: string } = {}, from = fresh()) =>
  call<{
    code?: string;
    message?: string;
    apiKey?: { key: string };
    enrolmentToken?: string;
    expiresAt?: string;
  }>('POST', '/v1/auth/login', { from, body: { username, password, client: 'cli', ...extra } });

/** The code an authenticator app shows for `secret`, `steps` periods from now. */
const codeOf = (secret: string, steps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 });

interface SystemEvent {
  event: string;
  user: string;
  detail: Record<string, unknown>;
}

async function events(kind: string, user: string, token = z.adminKey): Promise<SystemEvent[]> {
  const res = await z.api<{ items: SystemEvent[] }>(
    'GET',
    `/v1/audit/system?q=${kind}&user=${encodeURIComponent(user)}&limit=500`,
    undefined,
    token,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items.filter((e) => e.event === kind && e.user === user);
}

/** The system events of `user` as text: what must never hold a code or a seed. */
async function trailOf(user: string): Promise<string> {
  const res = await z.api('GET', `/v1/audit/system?user=${encodeURIComponent(user)}&limit=500`);
  assert.equal(res.status, 200);
  return JSON.stringify(res.body);
}

async function enrol(token: string, from?: string): Promise<string> {
  const started = await call<{ secret: string; uri: string }>('POST', '/v1/auth/totp', {
    token,
    ...(from ? { from } : {}),
  });
  assert.equal(started.status, 201, started.text);
  const confirmed = await call('POST', '/v1/auth/totp/confirm', {
    token,
    body: { code: codeOf(started.body.secret) },
  });
  assert.equal(confirmed.status, 204, confirmed.text);
  return started.body.secret;
}

describe('TOTP for a local user', () => {
  test('enrol, then log in only with a fresh code: missing, wrong and replayed codes refused and recorded', async () => {
    const user = await z.createUser('totp-login@example.com');
    const started = await call<{ secret: string; uri: string }>('POST', '/v1/auth/totp', {
      token: user.apiKey,
    });
    assert.equal(started.status, 201, started.text);
    const { secret, uri } = started.body;
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const parsed = new URL(uri);
    assert.equal(`${parsed.protocol}//${parsed.host}`, 'otpauth://totp');
    assert.equal(decodeURIComponent(parsed.pathname), '/ztka:totp-login@example.com');
    assert.equal(parsed.searchParams.get('issuer'), 'ztka');
    assert.equal(parsed.searchParams.get('secret'), secret);

    // Pending: the password alone still logs in, and a wrong code does not turn it on.
    assert.equal((await login(user.username, user.password)).status, 200);
    const wrong = await call('POST', '/v1/auth/totp/confirm', {
      token: user.apiKey,
      body: { code: codeOf(secret, 5) },
    });
    assert.equal(wrong.status, 400, wrong.text);
    assert.equal(
      (await call('POST', '/v1/auth/totp/confirm', { token: user.apiKey, body: { code: '12345' } })).status,
      400,
    );
    const confirming = codeOf(secret);
    const confirmed = await call('POST', '/v1/auth/totp/confirm', {
      token: user.apiKey,
      body: { code: confirming },
    });
    assert.equal(confirmed.status, 204, confirmed.text);
    const whoami = await call<{ totp: string }>('GET', '/v1/auth/whoami', { token: user.apiKey });
    assert.equal(whoami.body.totp, 'on');
    // On: a second enrolment would replace the factor; it takes a removal first.
    assert.equal((await call('POST', '/v1/auth/totp', { token: user.apiKey })).status, 409);

    // The password without a code: a clear, distinguishable answer — but only to someone with the password.
    const missing = await login(user.username, user.password);
    assert.equal(missing.status, 401);
    assert.equal(missing.body.code, 'totp_required');
    assert.match(missing.body.message ?? '', /two-factor code/);
    for (const [name, password] of [
      [user.username, `${user.password}-wrong`],
      ['nobody-here@example.com', user.password],
    ] as const) {
      const refused = await login(name, password);
      assert.equal(refused.status, 401);
      assert.deepEqual(refused.body, { code: 'unauthorized', message: 'invalid username or password' });
    }
    const wrongCode = await login(user.username, user.password, { totp: codeOf(secret, 5) });
    assert.equal(wrongCode.status, 401);
    assert.equal(wrongCode.body.code, 'unauthorized');
    assert.match(wrongCode.body.message ?? '', /two-factor code is wrong or was already used/);
    // The code that confirmed the enrolment is spent: seen over a shoulder, it logs nobody in.
    const replayed = await login(user.username, user.password, { totp: confirming });
    assert.equal(replayed.status, 401);
    assert.equal(replayed.body.code, 'unauthorized');
    assert.equal(
      (await login(user.username, user.password, { totp: 'abcdef' })).status,
      400,
      'a code that is no code is a bad request',
    );

    // The next step's code (within the window) logs in, once.
    const next = codeOf(secret, 1);
    const ok = await login(user.username, user.password, { totp: next });
    assert.equal(ok.status, 200, ok.text);
    assert.ok(ok.body.apiKey?.key);
    const again = await login(user.username, user.password, { totp: next });
    assert.equal(again.status, 401);

    const failures = (await events('login_failed', user.username)).map((e) => e.detail['reason']);
    assert.deepEqual(failures.filter((r) => String(r).includes('totp')).sort(), [
      'replayed totp code',
      'replayed totp code',
      'wrong totp code',
    ]);
    assert.equal((await events('totp_enrolled', user.username)).length, 1);
    const logins = await events('login', user.username);
    assert.ok(logins.some((e) => e.detail['totp'] === true));
    // No code and no seed anywhere in the trail.
    const trail = await trailOf(user.username);
    for (const secretThing of [secret, confirming, next])
      assert.ok(!trail.includes(secretThing), secretThing);
  });

  test('a person removes their own TOTP only with a current code; an admin resets anyone', async () => {
    const user = await z.createUser('totp-remove@example.com');
    const secret = await enrol(user.apiKey);
    const wrong = await call('DELETE', '/v1/auth/totp', {
      token: user.apiKey,
      body: { code: codeOf(secret, 5) },
    });
    assert.equal(wrong.status, 403, wrong.text);

    assert.equal((await call('DELETE', '/v1/auth/totp', { token: user.apiKey, body: {} })).status, 400);
    assert.equal((await events('totp_removal_refused', user.username))[0]?.detail['reason'], 'wrong code');
    const removed = await call('DELETE', '/v1/auth/totp', {
      token: user.apiKey,
      body: { code: codeOf(secret, 1) },
    });
    assert.equal(removed.status, 204, removed.text);
    assert.equal((await events('totp_removed', user.username)).length, 1);
    assert.equal((await login(user.username, user.password)).status, 200);

    // Lost phone: an org ADMIN resets it, and no one else may.
    await enrol(user.apiKey);
    const other = await z.createUser('totp-bystander@example.com', [{ role: 'ADMIN_READ_ONLY' }]);
    const path = `/v1/users/${encodeURIComponent(user.username)}/totp`;
    assert.equal((await call('DELETE', path, { token: other.apiKey })).status, 403);
    assert.equal((await call('DELETE', path, { token: user.apiKey })).status, 403);
    assert.equal((await login(user.username, user.password)).body.code, 'totp_required');
    const reset = await z.api('DELETE', path);
    assert.equal(reset.status, 204, JSON.stringify(reset.body));
    assert.equal((await z.api('DELETE', path)).status, 404);
    const recorded = await events('totp_reset', 'admin');
    assert.ok(recorded.some((e) => e.detail['user'] === user.username));
    assert.equal((await login(user.username, user.password)).status, 200);
  });
});

describe('an org that requires TOTP', () => {
  test('a person without it gets an enrolment token that opens nothing but enrolment, then logs in with a code', async (t) => {
    const user = await z.createUser('totp-required@example.com', [
      { role: 'PROJECT_READ_ONLY', project: 'desktop' },
    ]);
    const enrolled = await z.createUser('totp-already@example.com');
    const enrolledSecret = await enrol(enrolled.apiKey);
    const on = await z.api('PATCH', '/v1/settings', { requireTotp: true });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    t.after(async () =>
      assert.equal((await z.api('PATCH', '/v1/settings', { requireTotp: false })).status, 200),
    );

    // Without the password nothing changes: no token, no hint of the rule.
    const guess = await login(user.username, `${user.password}-wrong`);
    assert.deepEqual(guess.body, { code: 'unauthorized', message: 'invalid username or password' });

    const refused = await login(user.username, user.password);
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body.code, 'totp_enrolment_required');
    assert.match(refused.body.message ?? '', /requires two-factor authentication/);
    assert.equal(refused.body.apiKey, undefined);
    const token = refused.body.enrolmentToken ?? '';
    assert.match(token, /^ztke_/);
    const ttl = Date.parse(refused.body.expiresAt ?? '') - Date.now();
    assert.ok(ttl > 9 * 60_000 && ttl <= 10 * 60_000, `the token lives ${ttl} ms`);

    // Single purpose: everything else refuses it as no credential at all.
    assert.equal((await call('GET', '/v1/auth/whoami', { token })).status, 401);
    assert.equal((await call('GET', '/v1/clusters', { token })).status, 401);
    assert.equal((await call('POST', '/v1/kubeconfig', { token, body: {} })).status, 401);
    assert.equal((await call('POST', '/v1/api-keys', { token, body: { name: 'sneaky' } })).status, 401);
    assert.equal((await call('GET', `/k8s/clusters/${CLUSTER}/api/v1/namespaces`, { token })).status, 401);
    assert.equal((await call('DELETE', '/v1/auth/totp', { token, body: { code: '123456' } })).status, 401);

    const started = await call<{ secret: string }>('POST', '/v1/auth/totp', { token });
    assert.equal(started.status, 201, started.text);
    const confirmed = await call('POST', '/v1/auth/totp/confirm', {
      token,
      body: { code: codeOf(started.body.secret) },
    });
    assert.equal(confirmed.status, 204, confirmed.text);
    // Used up by the confirmation.
    assert.equal((await call('POST', '/v1/auth/totp', { token })).status, 401);

    assert.equal((await login(user.username, user.password)).body.code, 'totp_required');
    const ok = await login(user.username, user.password, { totp: codeOf(started.body.secret, 1) });
    assert.equal(ok.status, 200, ok.text);
    const kubeToken = await z.kubeToken(CLUSTER, ok.body.apiKey?.key ?? '');
    assert.equal(
      (await call('GET', `/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`, { token: kubeToken })).status,
      200,
    );

    // Someone enrolled already logs in as before, with a code.
    assert.equal(
      (await login(enrolled.username, enrolled.password, { totp: codeOf(enrolledSecret, 1) })).status,
      200,
    );
    assert.equal((await events('totp_enrolment_required', user.username)).length, 1);
    assert.equal((await events('totp_enrolled', user.username)).length, 1);
    assert.ok(!(await trailOf(user.username)).includes(token.split('.')[1] ?? token));
  });
});

describe('an org that signs in with single sign-on', () => {
  test('cannot be turned on without a break-glass user who can still get in', async () => {
    await z.createUser('glass-group@example.com');
    assert.equal((await z.api('POST', '/v1/groups', { name: 'admins' })).status, 201);
    assert.equal((await z.api('PUT', '/v1/groups/admins/members/glass-group@example.com')).status, 204);
    assert.equal(
      (await z.api('POST', '/v1/role-assignments', { group: 'admins', role: 'ADMIN' })).status,
      201,
    );
    assert.equal((await z.api('POST', '/v1/users', { username: 'glass-nopass@example.com' })).status, 201);
    assert.equal(
      (await z.api('POST', '/v1/role-assignments', { user: 'glass-nopass@example.com', role: 'ADMIN' }))
        .status,
      201,
    );
    await z.createUser('glass-reader@example.com', [{ role: 'ADMIN_READ_ONLY' }]);
    for (const [patch, why] of [
      [{ ssoOnly: true }, /set breakGlassUser/],
      [{ ssoOnly: true, breakGlassUser: 'nobody@example.com' }, /not found/],
      [{ ssoOnly: true, breakGlassUser: 'glass-group@example.com' }, /directly \(not through a group\)/],
      [{ ssoOnly: true, breakGlassUser: 'glass-reader@example.com' }, /ADMIN directly/],
      [{ ssoOnly: true, breakGlassUser: 'glass-nopass@example.com' }, /has no password/],
    ] as const) {
      const res = await z.api<{ code: string; message: string; field?: string }>(
        'PATCH',
        '/v1/settings',
        patch,
      );
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.field, '/breakGlassUser');
      assert.match(res.body.message, why);
    }
    // Nothing of a refused change stuck.
    const settings = await z.api<{ ssoOnly: boolean; breakGlassUser: string }>('GET', '/v1/settings');
    assert.equal(settings.body.ssoOnly, false);
    assert.equal(settings.body.breakGlassUser, '');
    assert.equal((await z.api('GET', '/v1/auth/whoami')).status, 200);
  });

  test('password logins refused but for the break-glass admin; local credentials revoked at once', async () => {
    const local = await z.createUser('sso-local@example.com', [
      { role: 'PROJECT_READ_ONLY', project: 'desktop' },
    ]);
    const kubeCredential = kubeconfigToken(
      await fs.readFile(await z.kubeconfig(CLUSTER, local.apiKey), 'utf8'),
    );
    const glass = await z.createUser('break-glass@example.com', [{ role: 'ADMIN' }]);
    const kubeGet = (token: string) =>
      call('GET', `/k8s/clusters/${CLUSTER}/api/v1/namespaces/default`, { token });
    assert.equal((await kubeGet(kubeCredential)).status, 200);

    const on = await z.api<{ ssoOnly: boolean; breakGlassUser: string }>('PATCH', '/v1/settings', {
      ssoOnly: true,
      breakGlassUser: glass.username,
    });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.deepEqual([on.body.ssoOnly, on.body.breakGlassUser], [true, glass.username]);

    // Every local credential ended with the change, the admin's own that made it too; the break-glass
    // user's did not.
    const whoami = await call<{ message: string }>('GET', '/v1/auth/whoami', { token: local.apiKey });
    assert.equal(whoami.status, 401);
    assert.equal((await kubeGet(kubeCredential)).status, 401);
    assert.equal((await call('GET', '/v1/auth/whoami', { token: z.adminKey })).status, 401);
    assert.equal((await call('GET', '/v1/auth/whoami', { token: glass.apiKey })).status, 200);

    const refused = await login(local.username, local.password);
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, {
      code: 'forbidden',
      message: 'this organization signs in with single sign-on',
    });
    // A wrong password learns nothing new.
    assert.deepEqual((await login(local.username, 'not-the-password')).body, {
      code: 'unauthorized',
      message: 'invalid username or password',
    });
    assert.equal((await login('admin', z.adminPassword)).status, 403);

    const glassIn = await login(glass.username, glass.password);
    assert.equal(glassIn.status, 200, glassIn.text);
    const glassKey = glassIn.body.apiKey?.key ?? '';
    assert.equal((await events('break_glass_login', glass.username, glassKey)).length, 1);
    const failed = await events('login_failed', local.username, glassKey);
    assert.ok(failed.some((e) => e.detail['reason'] === 'sso_only'));

    // While it is on, the break-glass user cannot be dropped.
    const drop = await call<{ field: string }>('PATCH', '/v1/settings', {
      token: glassKey,
      body: { breakGlassUser: '' },
    });
    assert.equal(drop.status, 400, drop.text);
    assert.equal(drop.body.field, '/breakGlassUser');

    const off = await call('PATCH', '/v1/settings', { token: glassKey, body: { ssoOnly: false } });
    assert.equal(off.status, 200, off.text);
    assert.equal((await login(local.username, local.password)).status, 200);
  });
});
