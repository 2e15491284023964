// The web console and the browser shell in a real browser (Debian's Chromium through playwright-core):
// the seed's walkthrough end to end, a read-only person's view, shell escapes, and the page's defences.
// Screenshots of each step are kept in test-artifacts/console/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { WebSocket } from 'ws';
import type { Browser, Page } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { kubectl, launchChromium, repoRootPath, testEnv, Ztka, type TestEnv } from '@ztka/testenv';

const CLUSTER = 'desktop';
const artifacts = path.join(repoRootPath, 'test-artifacts', 'console');
let env: TestEnv;
let z: Ztka;
let browser: Browser;
let jitNs: string;

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
  jitNs = z.jitNamespaces.get(CLUSTER)?.namespace ?? '';
  browser = await launchChromium();
  await fs.mkdir(artifacts, { recursive: true });
});
after(async () => {
  await browser?.close();
  await z?.stop();
});

async function openPage(): Promise<Page> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1400, height: 900 },
  });
  const page = await context.newPage();
  // Any alert, confirm or prompt means markup ran as code.
  page.on('dialog', (d) => {
    void d.dismiss();
    assert.fail(`a dialog opened: ${d.message()}`);
  });
  return page;
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

async function login(page: Page, username: string, password: string): Promise<void> {
  await page.goto(z.url);
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('nav-clusters').waitFor();
}

/** What the terminal shows, row by row, as text. */
const terminalText = async (page: Page) =>
  // xterm's DOM renderer draws spaces as no-break spaces.
  (await page.getByTestId('terminal').locator('.xterm-rows').innerText()).replace(/\u00a0/g, ' ');

async function waitForTerminal(page: Page, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await terminalText(page).catch(() => '');
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) {
      await shot(page, `failed-${Date.now()}`);
      assert.fail(`the terminal never showed ${String(pattern)}; it shows:\n${text}`);
    }
    await page.waitForTimeout(200);
  }
}

async function run(page: Page, line: string, expect: RegExp): Promise<string> {
  await page.getByTestId('terminal').click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
  return waitForTerminal(page, expect);
}

async function openShell(page: Page): Promise<void> {
  await page.getByTestId('nav-clusters').click();
  await page.getByTestId(`cluster-row-${CLUSTER}`).waitFor();
  await page.getByTestId(`kubectl-${CLUSTER}`).click();
  await waitForTerminal(page, /\$\s*$/m);
}

test("the seed walkthrough: log in, open the cluster's Kubectl shell, run kubectl, find it in the audit logs", async () => {
  const page = await openPage();
  await login(page, 'admin', z.adminPassword);
  await shot(page, '1-logged-in');
  await page.getByTestId('project-switcher').click();
  await page.getByRole('option', { name: 'desktop' }).click();
  await page.getByTestId('nav-clusters').click();
  await page.getByTestId(`cluster-row-${CLUSTER}`).waitFor();
  assert.match(await page.getByTestId(`cluster-status-${CLUSTER}`).innerText(), /connected/i);
  await shot(page, '2-clusters');

  await page.getByTestId(`kubectl-${CLUSTER}`).click();
  await waitForTerminal(page, /\$\s*$/m);
  const ns = await run(page, 'kubectl get ns', /kube-system/);
  assert.match(ns, /default\s+Active/);
  await shot(page, '3-kubectl-get-ns');
  // The just-in-time service account the seed shows is there, seconds old; the cluster's own admin sees it
  // (its namespace is out of every ztka role's reach, the shell's included).
  const sa = (await kubectl(['get', 'sa', '-n', jitNs], { kubeconfig: env.kubeconfig })).stdout;
  assert.match(sa, /admin\s+\d+\s+\d+s/, "the admin's service account, seconds old");
  const refused = await run(page, `kubectl get sa -n ${jitNs}`, /Forbidden|refused|not allowed/i);
  assert.doesNotMatch(refused, /admin\s+\d+\s+\d+s/);
  await shot(page, '4-kubectl-get-sa');

  // Home → System → Audit Logs.
  await page.goto(z.url);
  await page.getByTestId('nav-audit').click();
  await page.getByTestId('audit-tab-kubectl').click();
  await page.getByTestId('audit-view-commands').click();
  const commandRow = page.getByTestId('audit-row').filter({ hasText: 'kubectl get ns' });
  await commandRow.first().waitFor();
  assert.match(await commandRow.first().innerText(), /admin/);
  await shot(page, '5-audit-commands');
  await page.getByTestId('audit-view-api').click();
  const apiRow = page.getByTestId('audit-row').filter({ hasText: /namespaces/ });
  await apiRow.first().waitFor();
  assert.match(await apiRow.first().innerText(), /admin/);
  await shot(page, '6-audit-api');
});

test('a read-only person: the cluster refuses a delete in the shell, and no admin page is offered', async () => {
  const viewer = await z.createUser('viewer@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const page = await openPage();
  await login(page, viewer.username, viewer.password);
  assert.equal(await page.getByTestId('nav-users').count(), 0);
  assert.equal(await page.getByTestId('nav-audit').count(), 0);
  await page.getByTestId('nav-clusters').click();
  await page.getByTestId(`cluster-row-${CLUSTER}`).waitFor();
  assert.equal(await page.getByTestId('register-cluster').count(), 0);
  await openShell(page);
  const out = await run(page, 'kubectl delete configmap kube-root-ca.crt -n default', /forbidden/i);
  assert.match(out, /read-only/);
  await shot(page, '7-read-only-refused');
});

test('shell escapes are refused and nothing outside the session directory is touched', async () => {
  const page = await openPage();
  await login(page, 'admin', z.adminPassword);
  await openShell(page);
  const marker = path.join('/tmp', `ztka-shell-escape-${Date.now()}`);
  const attempts = [
    'kubectl get ns; id',
    'kubectl get ns && id',
    'kubectl get ns | head',
    'kubectl get ns $(id)',
    'kubectl get ns `id`',
    `kubectl get ns > ${marker}`,
    'kubectl --kubeconfig /etc/passwd get ns',
    'kubectl --server https://127.0.0.1:1 get ns',
    'kubectl --token abc get ns',
    'kubectl --as system:admin get ns',
    'kubectl apply -f /etc/passwd',
    `kubectl cp default/x:/etc/hosts ${marker}`,
    'kubectl proxy',
    'kubectl port-forward svc/x 8080:80',
    'kubectl plugin list',
    'kubectl edit ns default',
    'id',
  ];
  for (const line of attempts) {
    const before = (await terminalText(page)).length;
    await page.getByTestId('terminal').click();
    await page.keyboard.type(line);
    await page.keyboard.press('Enter');
    await waitForTerminal(page, /^ztka: /m);
    const text = (await terminalText(page)).slice(Math.max(0, before - 200));
    assert.doesNotMatch(text, /uid=\d+/, `${line} ran a shell`);
    await page.keyboard.press('Control+L');
  }
  // A plugin is just an unknown command: kubectl finds none on the shell's PATH.
  await run(page, 'kubectl ztka-nonexistent-plugin', /unknown command|not allowed/i);
  await assert.rejects(fs.stat(marker), { code: 'ENOENT' });
  await shot(page, '8-escapes-refused');
});

test('the page is served with a strict CSP, and markup in the audit trail shows as text', async () => {
  const page = await openPage();
  const response = await page.goto(z.url);
  const csp = response?.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
  assert.doesNotMatch(await page.content(), /<script>(?!<\/script>)/, 'no inline script');
  const markup = '<img src=x onerror=alert(1)><b>bold</b>';
  // Through the one door a client has into the Commands view: kubectl's own header on a real request.
  assert.equal(
    await kubeRequest(await z.kubeToken(CLUSTER), '/api/v1/namespaces', {
      'kubectl-command': `kubectl get ns ${markup}`,
      'kubectl-session': `markup-${Date.now()}`,
    }),
    200,
  );
  await login(page, 'admin', z.adminPassword);
  await page.getByTestId('nav-audit').click();
  await page.getByTestId('audit-tab-kubectl').click();
  await page.getByTestId('audit-view-commands').click();
  const row = page.getByTestId('audit-row').filter({ hasText: '<img src=x onerror=alert(1)>' });
  await row.first().waitFor();
  assert.equal(await page.locator('img[src="x"]').count(), 0, 'the markup became an element');
  await shot(page, '9-markup-as-text');
});

test('two-factor sign-in: enrol when the org requires it, then sign in with a code; a wrong one is refused', async (t) => {
  const user = await z.createUser('console-totp@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  assert.equal((await z.api('PATCH', '/v1/settings', { requireTotp: true })).status, 200);
  t.after(async () =>
    assert.equal((await z.api('PATCH', '/v1/settings', { requireTotp: false })).status, 200),
  );
  const page = await openPage();
  const codeOf = (secret: string, steps = 0) =>
    new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 });
  try {
    await page.goto(z.url);
    await page.getByTestId('login-username').fill(user.username);
    await page.getByTestId('login-password').fill(user.password);
    await page.getByTestId('login-submit').click();
    // No session yet: the enrolment, with the seed to copy into an app.
    await page.getByTestId('login-enrol').waitFor();
    const secret = (await page.getByTestId('totp-secret').innerText()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.match(
      await page.getByTestId('totp-uri').innerText(),
      /^otpauth:\/\/totp\/ztka:console-totp%40example\.com\?/,
    );
    await shot(page, 'totp-enrol');
    await page.getByTestId('totp-enrol-code').fill(codeOf(secret));
    await page.getByTestId('totp-enrol-submit').click();

    await page.getByTestId('login-totp-prompt').waitFor();
    await page.getByTestId('login-totp').fill(codeOf(secret, 5));
    await page.getByTestId('login-submit').click();
    await page.getByText('the two-factor code is wrong or was already used').waitFor();
    await page.getByTestId('login-totp').fill(codeOf(secret, 1));
    await page.getByTestId('login-submit').click();
    await page.getByTestId('nav-clusters').waitFor();
    await page.getByTestId('user-menu').click();
    await page.getByTestId('user-menu-two-factor').getByText('Two-factor authentication (on)').waitFor();
    await shot(page, 'totp-signed-in');
  } finally {
    await page.context().close();
  }
});

test('the shell WebSocket checks the session and the Origin', async () => {
  const url = `${z.url.replace('https', 'wss')}/v1/shell?cluster=${CLUSTER}`;
  const status = (headers: Record<string, string>) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { ca: z.ca, headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => resolve(0));
    });
  const login = await fetchSession();
  assert.equal(await status({ origin: new URL(z.url).origin }), 401, 'no session');
  assert.equal(await status({ origin: 'https://evil.example', cookie: login }), 403, 'foreign origin');
  assert.equal(await status({ cookie: login }), 403, 'no origin');
  assert.equal(await status({ origin: new URL(z.url).origin, cookie: login }), 101);
});

/** A GET through the kube proxy with `headers`; resolves with the status. */
async function kubeRequest(token: string, path: string, headers: Record<string, string>): Promise<number> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    https
      .get(
        `${z.url}/k8s/clusters/${CLUSTER}${path}`,
        { ca: z.ca, headers: { ...headers, authorization: `Bearer ${token}` } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      )
      .on('error', reject);
  });
}

async function fetchSession(): Promise<string> {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${z.url}/v1/auth/login`,
      { method: 'POST', ca: z.ca, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie']).split(';')[0] ?? '');
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ username: 'admin', password: z.adminPassword }));
  });
}
