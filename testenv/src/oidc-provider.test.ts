// The test OpenID Provider driven as a relying party and a person would, with plain HTTPS requests: the
// authorization code flow with PKCE through its login form, refresh grants that see users.json change, the
// device flow, key rotation and a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import { startOidcProvider, type OidcProviderHandle, type OidcUser } from './oidc-provider.js';

const CLIENT = { id: 'ztka-controller', secret: 'controller-secret' };
const REDIRECT_URI = 'https://127.0.0.1:9/oidc/callback';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const alice: OidcUser = {
  sub: 'u-alice',
  username: 'alice',
  password: 'correct horse',
  email: 'alice@example.test',
  email_verified: true,
  name: 'Alice Example',
  groups: ['developers', 'operators'],
};

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One person's browser: HTTPS trusting the provider's CA, cookies kept by name, redirects not followed. */
class Browser {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly ca: string) {}

  request(
    url: string,
    opts: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
    const headers: Record<string, string> = { ...opts.headers };
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    if (this.cookies.size > 0) headers['cookie'] = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { method: opts.method ?? (body ? 'POST' : 'GET'), ca: this.ca, headers },
        (res) => {
          for (const c of res.headers['set-cookie'] ?? []) {
            const [pair = '', ...attrs] = c.split(';');
            const eq = pair.indexOf('=');
            const name = pair.slice(0, eq).trim();
            const expired = attrs.some((a) => /^\s*(max-age=0|expires=Thu, 01 Jan 1970)/i.test(a));
            if (expired) this.cookies.delete(name);
            else this.cookies.set(name, pair.slice(eq + 1));
          }
          let text = '';
          res.setEncoding('utf8').on('data', (s: string) => (text += s));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** GETs `url` and follows redirects until one leaves for `stopAt` (returned unfetched) or a page answers. */
  async follow(url: string, stopAt = REDIRECT_URI): Promise<{ url: string; res?: Response }> {
    for (let hops = 0; hops < 10; hops++) {
      if (url.startsWith(stopAt)) return { url };
      const res = await this.request(url);
      const location = res.headers['location'];
      if (res.status < 300 || res.status >= 400 || typeof location !== 'string') return { url, res };
      url = new URL(location, url).toString();
    }
    throw new Error(`more than 10 redirects from ${url}`);
  }
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  device_authorization_endpoint: string;
  code_challenge_methods_supported: string[];
}

interface Tokens {
  id_token: string;
  access_token: string;
  refresh_token?: string;
}

function jwtPart(jwt: string, index: 0 | 1): Record<string, unknown> {
  const part = jwt.split('.')[index];
  assert.ok(part, `not a JWT: ${jwt}`);
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

const b64 = (s: Buffer) => s.toString('base64url');

describe('the test OpenID Provider', () => {
  let op: OidcProviderHandle;
  let discovery: Discovery;
  let client: Browser;
  let refreshToken: string;

  const tokenRequest = (form: Record<string, string>) =>
    client.request(discovery.token_endpoint, {
      form,
      headers: { authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}` },
    });

  const refresh = async (): Promise<Response> => {
    const res = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
    if (res.status === 200) refreshToken = (JSON.parse(res.body) as Tokens).refresh_token ?? refreshToken;
    return res;
  };

  /** Logs in through the form and returns where it sent the browser back to the relying party, or the refusal. */
  async function logIn(person: Browser, login: string, password: string, verifier: string, nonce: string) {
    const authorize = new URL(discovery.authorization_endpoint);
    authorize.search = new URLSearchParams({
      client_id: CLIENT.id,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile groups',
      state: 'st-1',
      nonce,
      code_challenge: b64(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
    }).toString();
    const form = await person.follow(authorize.toString());
    assert.equal(form.res?.status, 200, form.res?.body);
    assert.match(form.res.body, /<h1>ztka test identity provider<\/h1>/);
    assert.match(form.res.body, /<button type="submit">Sign in<\/button>/);
    const posted = await person.request(form.url, { form: { login, password } });
    const location = posted.headers['location'];
    if (typeof location !== 'string') return { refused: posted };
    return { callback: new URL((await person.follow(new URL(location, form.url).toString())).url) };
  }

  before(async () => {
    const started = Date.now();
    op = await startOidcProvider({
      users: [alice],
      clients: [
        {
          client_id: CLIENT.id,
          client_secret: CLIENT.secret,
          redirect_uris: [REDIRECT_URI],
          grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
        },
      ],
      options: { idTokenTtlSeconds: 300 },
    });
    console.error(`oidc-provider test: provider ready in ${Date.now() - started} ms at ${op.issuer}`);
    client = new Browser(op.caPem);
    const res = await client.request(`${op.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    discovery = JSON.parse(res.body) as Discovery;
  });

  after(async () => {
    await op?.stop();
  });

  test('discovery over TLS names the issuer and S256 PKCE', () => {
    assert.equal(discovery.issuer, op.issuer);
    assert.match(op.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
    assert.ok(op.caFile.endsWith('/tls/ca.crt'));
  });

  test('an authorization request without PKCE is refused', async () => {
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: CLIENT.id,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
    }).toString();
    const { url: landed } = await new Browser(op.caPem).follow(url.toString());
    assert.equal(new URL(landed).searchParams.get('error'), 'invalid_request');
  });

  test('a wrong password shows the form again with an error', async () => {
    const result = await logIn(new Browser(op.caPem), 'alice', 'wrong', b64(randomBytes(32)), 'n-0');
    assert.equal(result.refused?.status, 200);
    assert.match(result.refused.body, /Invalid username or password/);
    assert.match(result.refused.body, /name="password"/);
  });

  test('the code flow with PKCE gives an ID token with email, username and groups, and a refresh token', async () => {
    const verifier = b64(randomBytes(32));
    const { callback } = await logIn(new Browser(op.caPem), 'alice', alice.password, verifier, 'n-1');
    assert.ok(callback, 'the login was refused');
    assert.equal(callback.searchParams.get('state'), 'st-1');
    assert.equal(callback.searchParams.get('iss'), op.issuer);
    const code = callback.searchParams.get('code');
    assert.ok(code);

    const withoutVerifier = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(withoutVerifier.status, 400);
    const ok = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    assert.equal(ok.status, 200, ok.body);
    const tokens = JSON.parse(ok.body) as Tokens;
    assert.ok(tokens.refresh_token, 'no refresh token');
    refreshToken = tokens.refresh_token;
    const claims = jwtPart(tokens.id_token, 1);
    assert.equal(claims['iss'], op.issuer);
    assert.equal(claims['aud'], CLIENT.id);
    assert.equal(claims['sub'], alice.sub);
    assert.equal(claims['nonce'], 'n-1');
    assert.equal(claims['email'], alice.email);
    assert.equal(claims['email_verified'], true);
    assert.equal(claims['preferred_username'], 'alice');
    assert.equal(claims['name'], alice.name);
    assert.deepEqual(claims['groups'], ['developers', 'operators']);
    assert.equal(Number(claims['exp']) - Number(claims['iat']), 300);

    const userinfo = await client.request(discovery.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(userinfo.status, 200, userinfo.body);
    assert.deepEqual((JSON.parse(userinfo.body) as { groups: string[] }).groups, ['developers', 'operators']);
  });

  test('a refresh grant reads users.json again: a dropped group is gone from the new ID token', async () => {
    await op.updateUser(alice.sub, { groups: ['developers'], email: 'alice@new.example.test' });
    const res = await refresh();
    assert.equal(res.status, 200, res.body);
    const claims = jwtPart((JSON.parse(res.body) as Tokens).id_token, 1);
    assert.deepEqual(claims['groups'], ['developers']);
    assert.equal(claims['email'], 'alice@new.example.test');
  });

  test('a disabled user can neither refresh nor log in', async () => {
    await op.updateUser(alice.sub, { disabled: true });
    const res = await refresh();
    assert.equal(res.status, 400);
    assert.equal((JSON.parse(res.body) as { error: string }).error, 'invalid_grant');
    const login = await logIn(new Browser(op.caPem), 'alice', alice.password, b64(randomBytes(32)), 'n-2');
    assert.match(login.refused?.body ?? '', /Invalid username or password/);
    await op.updateUser(alice.sub, { disabled: false });
    assert.equal((await refresh()).status, 200);
  });

  test('after a key rotation new ID tokens carry the new kid and the JWKS keeps the old key', async () => {
    const before = await refresh();
    const oldKid = jwtPart((JSON.parse(before.body) as Tokens).id_token, 0)['kid'];
    const kid = await op.rotateKeys();
    assert.notEqual(kid, oldKid);
    const jwks = JSON.parse((await client.request(discovery.jwks_uri)).body) as {
      keys: { kid: string; d?: string }[];
    };
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [kid, oldKid],
    );
    assert.ok(
      jwks.keys.every((k) => k.d === undefined),
      'the JWKS publishes a private key',
    );
    const after = await refresh();
    assert.equal(after.status, 200, after.body);
    assert.equal(jwtPart((JSON.parse(after.body) as Tokens).id_token, 0)['kid'], kid);
  });

  test('a restart keeps the issuer, the keys and the refresh tokens', async () => {
    const pid = op.pid;
    await op.restart();
    assert.notEqual(op.pid, pid);
    const res = await refresh();
    assert.equal(res.status, 200, res.body);
    assert.equal(jwtPart((JSON.parse(res.body) as Tokens).id_token, 1)['iss'], op.issuer);
  });

  test('the device flow: a user code, the same login form, then tokens at the token endpoint', async () => {
    const auth = await client.request(discovery.device_authorization_endpoint, {
      form: { client_id: CLIENT.id, client_secret: CLIENT.secret, scope: 'openid groups' },
    });
    assert.equal(auth.status, 200, auth.body);
    const device = JSON.parse(auth.body) as {
      device_code: string;
      user_code: string;
      verification_uri: string;
      verification_uri_complete: string;
    };
    assert.ok(device.user_code);
    assert.equal(device.verification_uri, `${op.issuer}/device`);

    const pending = await tokenRequest({ grant_type: DEVICE_GRANT, device_code: device.device_code });
    assert.equal((JSON.parse(pending.body) as { error: string }).error, 'authorization_pending');

    const person = new Browser(op.caPem);
    const confirm = await person.request(device.verification_uri_complete);
    assert.equal(confirm.status, 200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)?.[1];
    assert.ok(xsrf, confirm.body);
    const confirmed = await person.request(device.verification_uri, {
      form: { xsrf, user_code: device.user_code, confirm: 'yes' },
    });
    const login = await person.follow(
      new URL(String(confirmed.headers['location']), device.verification_uri).toString(),
    );
    assert.match(login.res?.body ?? '', /ztka test identity provider/);
    const posted = await person.request(login.url, { form: { login: 'alice', password: alice.password } });
    const done = await person.follow(new URL(String(posted.headers['location']), login.url).toString());
    assert.match(done.res?.body ?? '', /Sign-in Success/);

    const res = await tokenRequest({ grant_type: DEVICE_GRANT, device_code: device.device_code });
    assert.equal(res.status, 200, res.body);
    const tokens = JSON.parse(res.body) as Tokens;
    assert.deepEqual(jwtPart(tokens.id_token, 1)['groups'], ['developers']);
    assert.ok(tokens.refresh_token);
  });
});
