// Single sign-on against a real OpenID Provider (oidc-provider, its own process, its own login page, TLS with
// its own CA): the seed's walkthrough with an SSO login in Chromium, group changes at the provider changing
// access at the next refresh, the CLI's loopback and device flows with kubectl through the exec plugin, and
// the refusals — wrong issuer, replayed state, another browser's callback, a tampered nonce, an email outside
// the allowed domains — each with a clear message and an audit event.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SSO_EVENTS } from '@ztka/protocol';
import type { KubectlError } from '@ztka/testenv';
import {
  kubectl,
  kubectlPath,
  launchChromium,
  repoRootPath,
  startOidcProvider,
  testEnv,
  Ztka,
  ZtkaCli,
  ztkaMain,
  type OidcProviderHandle,
  type OidcUser,
  type TestEnv,
} from '@ztka/testenv';

const CLUSTER = 'sso-desk';
const PROJECT = 'sso-desk';
const artifacts = path.join(repoRootPath, 'test-artifacts', 'sso');
const CLIENT = { id: 'ztka-console', secret: 'a-client-secret-for-tests-only-123456' };

let env: TestEnv;
let z: Ztka;
let idp: OidcProviderHandle;
let browser: Browser;

const user = (sub: string, username: string, email: string, groups: string[]): OidcUser => ({
  sub,
  username,
  password: `pw-${sub}-correct-horse`,
  email,
  email_verified: true,
  name: username,
  groups,
});
const ALICE = user('sub-alice', 'alice', 'alice@rafay.co', ['kube-ops']);
const BOB = user('sub-bob', 'bob', 'bob@rafay.co', ['kube-ops']);
const CAROL = user('sub-carol', 'carol', 'carol@rafay.co', ['kube-ops']);
const EVE = user('sub-eve', 'eve', 'eve@elsewhere.io', ['kube-ops']);
const DAVE = user('sub-dave', 'dave', 'dave@rafay.co', ['kube-ops']);

before(async () => {
  env = await testEnv();
  // Refresh every 2 s, so a change at the provider shows within a few seconds.
  z = await Ztka.start({ env: { ZTKA_SSO_REFRESH_SECONDS: '2' } });
  await z.connectCluster(CLUSTER, env.kubeconfig, PROJECT);
  idp = await startOidcProvider({
    users: [ALICE, BOB, CAROL, EVE, DAVE],
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        redirect_uris: [`${z.url}/v1/auth/sso/callback`],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      },
    ],
  });
  // The group the provider's kube-ops maps to, and what it gives: the project's clusters, read and write.
  await must(z.api('POST', '/v1/groups', { name: 'ops' }), 201);
  await must(
    z.api('POST', '/v1/role-assignments', { group: 'ops', role: 'PROJECT_ADMIN', project: PROJECT }),
    201,
  );
  browser = await launchChromium();
  await fs.mkdir(artifacts, { recursive: true });
});
after(async () => {
  await browser?.close();
  await z?.stop();
  await idp?.stop();
});

async function must<T>(res: Promise<{ status: number; body: T }>, status: number): Promise<T> {
  const r = await res;
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r.body;
}

const providerBody = (over: Record<string, unknown> = {}) => ({
  name: 'corp',
  displayName: 'Corp IdP',
  issuer: idp.issuer,
  clientId: CLIENT.id,
  clientSecret: CLIENT.secret,
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  groupMapping: { 'kube-ops': 'ops' },
  groupsByName: false,
  allowedDomains: ['rafay.co'],
  caPem: idp.caPem,
  deviceFlow: true,
  ...over,
});

let providerReady: Promise<void> | undefined;
/** The org admin configures the provider once (through the API, as the CLI and the console do). */
function provider(): Promise<void> {
  providerReady ??= must(z.api('POST', '/v1/sso/providers', providerBody()), 201).then(() => undefined);
  return providerReady;
}

async function newContext(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1400, height: 900 },
  });
  const page = await context.newPage();
  return { context, page };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

/** At the provider's own login page: sign in as `who`. */
async function signInAtProvider(page: Page, who: OidcUser): Promise<void> {
  await page.locator('input[name="login"]').waitFor();
  assert.match(page.url(), new RegExp(`^${idp.issuer.replace(/[.]/g, '\\.')}/`), 'at the provider');
  await page.locator('input[name="login"]').fill(who.username);
  await page.locator('input[name="password"]').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function consoleLogin(page: Page, who: OidcUser): Promise<void> {
  await page.goto(`${z.url}/login`);
  await page.getByTestId('sso-login-corp').click();
  await signInAtProvider(page, who);
}

async function systemEvents(
  event: string,
): Promise<{ user: string | null; detail: Record<string, unknown> }[]> {
  const res = await z.api<{
    items: { event: string; user: string | null; detail: Record<string, unknown> }[];
  }>('GET', `/v1/audit/system?q=${event}&limit=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items.filter((e) => e.event === event);
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const terminalText = async (page: Page) =>
  (await page.getByTestId('terminal').locator('.xterm-rows').innerText()).replace(/\u00a0/g, ' ');

async function waitForTerminal(page: Page, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return eventually(
    `the terminal to show ${String(pattern)}`,
    async () => {
      const text = await terminalText(page).catch(() => '');
      return pattern.test(text) ? text : undefined;
    },
    timeoutMs,
  );
}

test('an admin configures a provider: a wrong issuer is refused with a clear message, the secret never comes back', async () => {
  const wrong = await z.api<{ message: string; field?: string }>(
    'POST',
    '/v1/sso/providers',
    providerBody({ name: 'wrong', issuer: idp.issuer.replace('127.0.0.1', 'localhost') }),
  );
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.field, '/issuer');
  assert.match(wrong.body.message, /issuer/i);
  const missing = await z.api<{ message: string }>(
    'POST',
    '/v1/sso/providers',
    providerBody({ name: 'nowhere', issuer: `${idp.issuer}/nope` }),
  );
  assert.equal(missing.status, 400);
  assert.match(missing.body.message, /discovery/);

  await provider();
  const listed = await must(z.api<{ items: Record<string, unknown>[] }>('GET', '/v1/sso/providers'), 200);
  assert.equal(listed.items.length, 1);
  assert.equal(listed.items[0]?.['hasClientSecret'], true);
  assert.ok(!JSON.stringify(listed).includes(CLIENT.secret), 'the client secret is never served');
  assert.equal(listed.items[0]?.['redirectUri'], `${z.url}/v1/auth/sso/callback`);
  // Anyone may see the names on the login page; nothing more.
  const names = await must(
    z.api<{ items: unknown[] }>('GET', '/v1/auth/sso/providers', undefined, null),
    200,
  );
  assert.deepEqual(names.items, [{ name: 'corp', displayName: 'Corp IdP' }]);
});

test('the seed walkthrough with single sign-on: the provider login page, the console with the group role, kubectl get ns in the shell', async () => {
  await provider();
  const { context, page } = await newContext();
  try {
    await consoleLogin(page, ALICE);
    await page.getByTestId('nav-clusters').waitFor();
    await shot(page, '1-logged-in');
    const me = (await page.evaluate(async () => (await fetch('/v1/auth/whoami')).json())) as {
      username: string;
      groups: string[];
    };
    assert.equal(me.username, 'alice@rafay.co');
    assert.deepEqual(me.groups, ['ops']);

    await page.getByTestId('project-switcher').click();
    await page.getByRole('option', { name: PROJECT }).click();
    await page.getByTestId('nav-clusters').click();
    await page.getByTestId(`kubectl-${CLUSTER}`).click();
    await waitForTerminal(page, /\$\s*$/m);
    await page.getByTestId('terminal').click();
    await page.keyboard.type('kubectl get ns');
    await page.keyboard.press('Enter');
    const out = await waitForTerminal(page, /kube-system/);
    assert.match(out, /default\s+Active/);
    await shot(page, '2-kubectl-get-ns');

    const logins = await systemEvents(SSO_EVENTS.login);
    const alice = logins.find((e) => e.user === 'alice@rafay.co');
    assert.ok(alice, 'the login is on record');
    assert.equal(alice.detail['provider'], 'corp');
    assert.equal(alice.detail['subject'], ALICE.sub);
    assert.deepEqual(alice.detail['providerGroups'], ['kube-ops']);
    assert.deepEqual(alice.detail['groups'], ['ops']);
    // The cluster's own trail and ztka's tell the same story: the kube record names the person.
    const api = await z.api<{ items: { user: string | null; uri?: string }[] }>(
      'GET',
      `/v1/audit/api?user=alice%40rafay.co&cluster=${CLUSTER}&limit=50`,
    );
    assert.ok(api.body.items.some((r) => r.user === 'alice@rafay.co'));
  } finally {
    await context.close();
  }
});

test('removed from the group at the provider: access ends at the next refresh, streams included', async () => {
  await provider();
  const { context, page } = await newContext();
  try {
    await consoleLogin(page, BOB);
    await page.getByTestId('nav-clusters').waitFor();
    // A kubeconfig downloaded in the console session: the person's own kubectl.
    const yaml = await page.evaluate(async (cluster) => {
      const me = (await (await fetch('/v1/auth/whoami')).json()) as { csrfToken: string };
      const res = await fetch('/v1/kubeconfig', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken },
        body: JSON.stringify({ cluster }),
      });
      return res.text();
    }, CLUSTER);
    const file = path.join(z.dir, 'bob.kubeconfig');
    await fs.writeFile(file, yaml, { mode: 0o600 });
    await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig: file });
    // A watch held open across the change.
    const watch = spawn(kubectlPath(), ['--kubeconfig', file, 'get', 'ns', '--watch'], {
      stdio: 'ignore',
    });
    const watchEnded = new Promise<number | null>((resolve) => watch.once('exit', (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 1500));

    await idp.updateUser(BOB.sub, { groups: [] });
    const changed = await eventually('the refresh to take bob out of ops', async () =>
      (await systemEvents(SSO_EVENTS.groupsChanged)).find((e) => e.user === 'bob@rafay.co'),
    );
    assert.deepEqual(changed.detail['removed'], ['ops']);
    await assert.rejects(
      kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig: file }),
      (err: KubectlError) => {
        assert.match(err.stderr, /forbidden/i);
        return true;
      },
    );
    const code = await Promise.race([
      watchEnded,
      new Promise((r) => setTimeout(() => r('still running'), 15_000)),
    ]);
    assert.notEqual(code, 'still running', 'the watch ended with the access');
    watch.kill();
  } finally {
    await context.close();
  }
});

test('disabled at the provider: the refresh is refused and every credential the person holds ends', async () => {
  await provider();
  const cli = await ZtkaCli.create();
  try {
    const { context, page } = await newContext();
    try {
      await cliLogin(cli, page, CAROL);
    } finally {
      await context.close();
    }
    assert.match(await cli.ok(['whoami']), /carol@rafay\.co/);
    await idp.updateUser(CAROL.sub, { disabled: true });
    const ended = await eventually('carol’s session to end', async () =>
      (await systemEvents(SSO_EVENTS.sessionEnded)).find((e) => e.user === 'carol@rafay.co'),
    );
    assert.equal(ended.detail['provider'], 'corp');
    const after = await cli.run(['whoami']);
    assert.notEqual(after.code, 0);
    assert.match(after.stderr, /invalid, expired or revoked|log in/i);
  } finally {
    await cli.remove();
  }
});

/**
 * A console login driven step by step with the browser context's own cookies, stopping at the callback URL
 * the provider sends back (unused); `tamper` may change the authorization request on its way.
 */
async function signInWithoutFollowing(
  context: BrowserContext,
  who: OidcUser,
  tamper: (url: URL) => void = () => undefined,
): Promise<string> {
  let url = `${z.url}/v1/auth/sso/corp/start`;
  for (let hop = 0; hop < 12; hop++) {
    if (url.startsWith(`${z.url}/v1/auth/sso/callback`)) return url;
    const target = new URL(url);
    if (target.href.startsWith(idp.issuer)) tamper(target);
    let res = await context.request.get(target.href, { maxRedirects: 0 });
    if (res.status() === 200 && /name="login"/.test(await res.text())) {
      res = await context.request.post(target.href, {
        form: { login: who.username, password: who.password },
        maxRedirects: 0,
      });
    }
    const location = res.headers()['location'];
    assert.ok(location, `hop ${hop} at ${target.href} answered ${res.status()} without a redirect`);
    url = new URL(location, target).href;
  }
  assert.fail('the provider never sent the browser back');
}

/** `ztka login` running as the person's CLI, with what it prints so far and how it ended. */
function runLogin(
  cli: ZtkaCli,
  args: string[],
): { out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [ztkaMain, 'login', '--server', z.url, '--ca-file', z.caFile, ...args],
    {
      env: { ...process.env, ...cli.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { out: () => out, err: () => err, exited };
}

/** `ztka login --sso --no-browser`: Chromium follows the link the CLI prints; resolves when the CLI is done. */
async function cliLogin(cli: ZtkaCli, page: Page, who: OidcUser, extra: string[] = []): Promise<string> {
  const run = runLogin(cli, ['--sso', '--no-browser', ...extra]);
  const link = await eventually(
    'the CLI to print its link',
    async () => /https:\/\/\S+\/start\?\S+/.exec(run.out())?.[0],
  );
  await page.goto(link);
  await signInAtProvider(page, who);
  // The controller asks, in this browser, whether the CLI is the person's: the same words as the terminal.
  const words = /Confirm there that it shows (\S+)\./.exec(run.out())?.[1];
  assert.ok(words, run.out());
  assert.equal(await page.getByTestId('cli-confirmation').innerText(), words);
  await page.getByTestId('cli-continue').click();
  await page.getByText('You are signed in to ztka').waitFor();
  assert.equal(await run.exited, 0, `${run.out()}\n${run.err()}`);
  return run.out();
}

test('the CLI logs in through the browser (loopback), and kubectl works through the exec plugin with that identity', async () => {
  await provider();
  const cli = await ZtkaCli.create();
  const { context, page } = await newContext();
  try {
    const out = await cliLogin(cli, page, DAVE);
    assert.match(out, /Logged in to .* as dave@rafay\.co/);
    await shot(page, '3-cli-signed-in');
    const kubeconfig = path.join(cli.home, 'kubeconfig');
    await cli.ok(['kubeconfig', '--cluster', CLUSTER, '--exec', '--file', kubeconfig]);
    const res = await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig, env: cli.env });
    assert.match(res.stdout, /namespace\/default/);
    const config = await fs.readFile(kubeconfig, 'utf8');
    assert.doesNotMatch(config, /eyJ/, 'no provider token (a JWT) reaches the kubeconfig');
  } finally {
    await context.close();
    await cli.remove();
  }
});

test('refusals: a replayed callback, a callback in another browser, a tampered nonce, an email outside the allowed domains', async () => {
  await provider();
  // Replay: the callback URL the provider sent, visited again after it was used.
  {
    const { context, page } = await newContext();
    let callback: string | undefined;
    page.on('request', (r) => {
      if (r.url().startsWith(`${z.url}/v1/auth/sso/callback`)) callback ??= r.url();
    });
    await consoleLogin(page, ALICE);
    await page.getByTestId('nav-clusters').waitFor();
    assert.ok(callback);
    // Signed out in the same browser (its login cookie kept), the used callback is presented again.
    await context.clearCookies({ name: '__Host-ztka_session' });
    await page.goto(callback);
    await page.getByTestId('sso-error').waitFor();
    assert.match(await page.getByTestId('sso-error').innerText(), /already used|expired|start again/);
    // Another browser (no login cookie) presenting a fresh, unused state and code: refused too.
    const callbackUrl = await signInWithoutFollowing(context, ALICE);
    const { page: other, context: otherContext } = await newContext();
    await other.goto(callbackUrl);
    await other.getByTestId('sso-error').waitFor();
    assert.match(await other.getByTestId('sso-error').innerText(), /another browser/);
    const cookies = await otherContext.cookies();
    assert.ok(!cookies.some((c) => c.name === '__Host-ztka_session'), 'no session for the other browser');
    await otherContext.close();
    await context.close();
  }
  // Nonce: the request to the provider carries another nonce than the one the login stored.
  {
    const { context, page } = await newContext();
    const callbackUrl = await signInWithoutFollowing(context, ALICE, (url) => {
      if (url.searchParams.has('nonce')) url.searchParams.set('nonce', 'a-nonce-the-attacker-chose');
    });
    await page.goto(callbackUrl);
    await page.getByTestId('sso-error').waitFor();
    assert.match(await page.getByTestId('sso-error').innerText(), /nonce/);
    await context.close();
  }
  // Domain: eve's email is at elsewhere.io.
  {
    const { context, page } = await newContext();
    await consoleLogin(page, EVE);
    await page.getByTestId('sso-error').waitFor();
    assert.match(await page.getByTestId('sso-error').innerText(), /elsewhere\.io may not log in/);
    await shot(page, '4-domain-refused');
    await context.close();
  }
  const failures = await systemEvents(SSO_EVENTS.loginFailed);
  const reasons = new Set(failures.map((f) => f.detail['reason']));
  for (const reason of ['state_mismatch', 'nonce_mismatch', 'email_not_allowed'])
    assert.ok(reasons.has(reason), `${reason} is on record (have ${[...reasons].join(', ')})`);
  const users = await must(z.api<{ items: { username: string }[] }>('GET', '/v1/users?limit=500'), 200);
  assert.ok(!users.items.some((u) => u.username === 'eve@elsewhere.io'), 'no account for a refused person');
});

test('the CLI without a browser: the device flow, with the code entered on another device', async () => {
  await provider();
  const cli = await ZtkaCli.create();
  const { context, page } = await newContext();
  try {
    const run = runLogin(cli, ['--device']);
    const link = await eventually(
      'the CLI to print the device link',
      async () => /https:\/\/\S+\/device\S*/.exec(run.out())?.[0],
    );
    const userCode = /enter the code (\S+)/.exec(run.out())?.[1];
    assert.ok(userCode, run.out());
    await page.goto(link);
    // The provider's own confirmation of the code, then its login form.
    await page.locator('button[type="submit"]').first().click();
    await signInAtProvider(page, ALICE);
    await page
      .getByText(/success/i)
      .first()
      .waitFor();
    assert.equal(await run.exited, 0, `${run.out()}\n${run.err()}`);
    assert.match(run.out(), /Logged in to .* as alice@rafay\.co/);
    assert.match(await cli.ok(['whoami']), /alice@rafay\.co/);
    const logins = await systemEvents(SSO_EVENTS.login);
    assert.ok(logins.some((e) => e.user === 'alice@rafay.co' && e.detail['client'] === 'device'));
  } finally {
    await context.close();
    await cli.remove();
  }
});

test('a signing key rotated in at the provider is fetched and checked: logins go on', async () => {
  await provider();
  const { context, page } = await newContext();
  try {
    const kid = await idp.rotateKeys();
    assert.ok(kid);
    // The relying party fetches the provider's keys again for an unknown key id at most once a minute (so
    // tokens naming made-up keys cannot make it hammer the provider): a login in that minute is refused
    // with words that say to try again, and the next one, past it or after the refusal, goes through.
    await page.goto(await signInWithoutFollowing(context, DAVE));
    const landed = await Promise.race([
      page
        .getByTestId('nav-clusters')
        .waitFor()
        .then(() => 'console'),
      page
        .getByTestId('sso-error')
        .waitFor()
        .then(() => 'refused'),
    ]);
    if (landed === 'refused') {
      assert.match(await page.getByTestId('sso-error').innerText(), /key|signature/i);
      await page.goto(await signInWithoutFollowing(context, DAVE));
      await page.getByTestId('nav-clusters').waitFor();
    }
  } finally {
    await context.close();
  }
});

test('a CLI login some page started is not finished unseen: the code waits for the person to confirm', async () => {
  await provider();
  const { context, page } = await newContext();
  try {
    await consoleLogin(page, DAVE);
    await page.getByTestId('nav-clusters').waitFor();
    // A hostile page's navigation, with the attacker's own listener and challenge, in a browser already
    // signed in at the provider.
    const challenge = 'A'.repeat(43);
    const loopback = 'http://127.0.0.1:9/callback';
    const leaked: string[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(loopback)) leaked.push(r.url());
    });
    await page.goto(
      `${z.url}/v1/auth/sso/corp/start?client=cli&redirect=${encodeURIComponent(loopback)}&challenge=${challenge}`,
    );
    await page.getByTestId('cli-confirmation').waitFor();
    assert.deepEqual(leaked, [], 'nothing reached the loopback without a click');
    const href = await page.getByTestId('cli-continue').getAttribute('href');
    const code = new URL(href ?? '', z.url).searchParams.get('code') ?? '';
    const stolen = await z.api('POST', '/v1/auth/sso/exchange', { code, codeVerifier: 'B'.repeat(43) }, null);
    assert.equal(stolen.status, 401, 'an unconfirmed code redeems nothing');
    // Continuing from another browser (without this one's login cookie) does not confirm it either.
    const { context: other, page: otherPage } = await newContext();
    await otherPage.goto(`${z.url}${href ?? ''}`);
    await otherPage.getByTestId('sso-error').waitFor();
    await other.close();
  } finally {
    await context.close();
  }
});

// Last: it removes the provider.
test('groups by name never grant an org-wide role; removing the provider signs its people out and drops what it gave', async () => {
  await provider();
  await must(z.api('POST', '/v1/groups', { name: 'platform-admins' }), 201);
  await must(z.api('POST', '/v1/role-assignments', { group: 'platform-admins', role: 'ADMIN' }), 201);
  await must(z.api('POST', '/v1/groups', { name: 'viewers' }), 201);
  await must(
    z.api('POST', '/v1/role-assignments', { group: 'viewers', role: 'PROJECT_READ_ONLY', project: PROJECT }),
    201,
  );
  await must(z.api('PATCH', '/v1/sso/providers/corp', { groupsByName: true }), 200);
  const mallory = user('sub-mallory', 'mallory', 'mallory@rafay.co', ['platform-admins', 'viewers']);
  await idp.setUsers([...(await idp.users()), mallory]);

  const { context, page } = await newContext();
  try {
    await page.goto(await signInWithoutFollowing(context, mallory));
    await page.getByTestId('nav-clusters').waitFor();
    const me = (await page.evaluate(async () => (await fetch('/v1/auth/whoami')).json())) as {
      groups: string[];
    };
    assert.deepEqual(
      me.groups,
      ['viewers'],
      'a provider group named like an ADMIN group grants nothing by name',
    );
    assert.equal(await page.getByTestId('nav-users').count(), 0);

    await must(z.api('DELETE', '/v1/sso/providers/corp'), 204);
    const after = await page.evaluate(async () => (await fetch('/v1/auth/whoami')).status);
    assert.equal(after, 401, 'the session it gave has ended');
    const groups = await must(
      z.api<{ items: { name: string; members: string[] }[] }>('GET', '/v1/groups'),
      200,
    );
    assert.deepEqual(groups.items.find((g) => g.name === 'viewers')?.members, []);
  } finally {
    await context.close();
  }
});
