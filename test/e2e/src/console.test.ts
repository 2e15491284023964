// The web console and the browser shell in a real browser (Debian's Chromium through playwright-core):
// the seed's walkthrough end to end, a read-only person's view, shell escapes, and the page's defences.
// Screenshots of each step are kept in test-artifacts/console/. The pages are driven through their page
// objects (support/console-pages.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { WebSocket } from 'ws';
import type { Browser } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { kubectl, launchChromium, repoRootPath, testEnv, Ztka, type TestEnv } from '@ztka/testenv';
import { ConsoleTab } from './support/console-pages.js';
import { sessionCookie } from './support/web-shell.js';

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

const openTab = () => ConsoleTab.open(browser, z.url, artifacts);

test("the seed walkthrough: log in, open the cluster's Kubectl shell, run kubectl, find it in the audit logs", async () => {
  const tab = await openTab();
  await tab.login.signIn('admin', z.adminPassword);
  await tab.shot('1-logged-in');
  await tab.nav.chooseProject('desktop');
  await tab.clusters.open(CLUSTER);
  assert.match(await tab.clusters.status(CLUSTER), /connected/i);
  await tab.shot('2-clusters');

  await tab.clusters.openShell(CLUSTER);
  const ns = await tab.shell.run('kubectl get ns', /kube-system/);
  assert.match(ns, /default\s+Active/);
  await tab.shot('3-kubectl-get-ns');
  // The just-in-time service account the seed shows is there, seconds old; the cluster's own admin sees it
  // (its namespace is out of every ztka role's reach, the shell's included).
  const sa = (await kubectl(['get', 'sa', '-n', jitNs], { kubeconfig: env.kubeconfig })).stdout;
  assert.match(sa, /admin\s+\d+\s+\d+s/, "the admin's service account, seconds old");
  const refused = await tab.shell.run(`kubectl get sa -n ${jitNs}`, /Forbidden|refused|not allowed/i);
  assert.doesNotMatch(refused, /admin\s+\d+\s+\d+s/);
  await tab.shot('4-kubectl-get-sa');

  // Home → System → Audit Logs.
  await tab.home();
  await tab.audit.openCommands();
  const commandRow = await tab.audit.row('kubectl get ns');
  assert.match(await commandRow.innerText(), /admin/);
  await tab.shot('5-audit-commands');
  await tab.audit.showApiCalls();
  const apiRow = await tab.audit.row(/namespaces/);
  assert.match(await apiRow.innerText(), /admin/);
  await tab.shot('6-audit-api');
});

test('a read-only person: the cluster refuses a delete in the shell, and no admin page is offered', async () => {
  const viewer = await z.createUser('viewer@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  const tab = await openTab();
  await tab.login.signIn(viewer.username, viewer.password);
  assert.equal(await tab.nav.offers('users'), false);
  assert.equal(await tab.nav.offers('audit'), false);
  await tab.clusters.open(CLUSTER);
  assert.equal(await tab.clusters.offersRegistration(), false);
  await tab.clusters.openShell(CLUSTER);
  const out = await tab.shell.run('kubectl delete configmap kube-root-ca.crt -n default', /forbidden/i);
  assert.match(out, /read-only/);
  await tab.shot('7-read-only-refused');
});

test('shell escapes are refused and nothing outside the session directory is touched', async () => {
  const tab = await openTab();
  await tab.login.signIn('admin', z.adminPassword);
  await tab.clusters.open(CLUSTER);
  await tab.clusters.openShell(CLUSTER);
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
    const before = (await tab.shell.text()).length;
    await tab.shell.type(line);
    await tab.shell.waitFor(/^ztka: /m);
    const text = (await tab.shell.text()).slice(Math.max(0, before - 200));
    assert.doesNotMatch(text, /uid=\d+/, `${line} ran a shell`);
    await tab.shell.clear();
  }
  // A plugin is just an unknown command: kubectl finds none on the shell's PATH.
  await tab.shell.run('kubectl ztka-nonexistent-plugin', /unknown command|not allowed/i);
  await assert.rejects(fs.stat(marker), { code: 'ENOENT' });
  await tab.shot('8-escapes-refused');
});

test('the page is served with a strict CSP, and markup in the audit trail shows as text', async () => {
  const tab = await openTab();
  const response = await tab.home();
  const csp = response?.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
  assert.doesNotMatch(await tab.page.content(), /<script>(?!<\/script>)/, 'no inline script');
  const markup = '<img src=x onerror=alert(1)><b>bold</b>';
  // Through the one door a client has into the Commands view: kubectl's own header on a real request.
  assert.equal(
    await kubeRequest(await z.kubeToken(CLUSTER), '/api/v1/namespaces', {
      'kubectl-command': `kubectl get ns ${markup}`,
      'kubectl-session': `markup-${Date.now()}`,
    }),
    200,
  );
  await tab.login.signIn('admin', z.adminPassword);
  await tab.audit.openCommands();
  await tab.audit.row('<img src=x onerror=alert(1)>');
  assert.equal(await tab.page.locator('img[src="x"]').count(), 0, 'the markup became an element');
  await tab.shot('9-markup-as-text');
});

test('two-factor sign-in: enrol when the org requires it, then sign in with a code; a wrong one is refused', async (t) => {
  const user = await z.createUser('console-totp@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  assert.equal((await z.api('PATCH', '/v1/settings', { requireTotp: true })).status, 200);
  t.after(async () =>
    assert.equal((await z.api('PATCH', '/v1/settings', { requireTotp: false })).status, 200),
  );
  const tab = await openTab();
  const codeOf = (secret: string, steps = 0) =>
    new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + steps * 30_000 });
  try {
    await tab.login.submitPassword(user.username, user.password);
    // No session yet: the enrolment, with the seed to copy into an app.
    const { secret, uri } = await tab.login.enrolment();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.match(uri, /^otpauth:\/\/totp\/ztka:console-totp%40example\.com\?/);
    await tab.shot('totp-enrol');
    await tab.login.confirmEnrolment(codeOf(secret));

    await tab.login.waitForCodePrompt();
    await tab.login.submitCode(codeOf(secret, 5));
    await tab.login.waitForMessage('the two-factor code is wrong or was already used');
    await tab.login.submitCode(codeOf(secret, 1));
    await tab.byTestId('nav-clusters').waitFor();
    await tab.nav.waitForUserMenuItem('user-menu-two-factor', 'Two-factor authentication (on)');
    await tab.shot('totp-signed-in');
  } finally {
    await tab.close();
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
  const login = await sessionCookie(z, 'admin', z.adminPassword);
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
