import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FakeController } from './testing/fake-controller.js';
import { startFake } from './testing/fake-controller.js';
import { makeHome, type Home } from './testing/run-cli.js';

let fake: FakeController;
let home: Home;
const settings: Record<string, unknown> = {
  kubeconfigValiditySeconds: 28_800,
  saLifetimeSeconds: 5_400,
  webKubectl: true,
  cliKubectl: false,
  namespacePodSecurity: 'off',
  requireTotp: false,
  ssoOnly: false,
  breakGlassUser: '',
};

before(async () => {
  fake = await startFake({
    'GET /v1/settings': () => ({ json: settings }),
    'PATCH /v1/settings': (req) => {
      Object.assign(settings, req.json);
      return { json: settings };
    },
  });
  home = makeHome();
  await home.login(fake.url);
});

after(async () => {
  home.remove();
  await fake.close();
});

test('settings get shows durations and switches in human form', async () => {
  const all = await home.run(['settings', 'get']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(
    all.stdout,
    'KEY                      VALUE\nkubeconfig-validity      8h\nsa-lifetime              1h30m\nweb-kubectl              enabled\ncli-kubectl              disabled\nnamespace-pod-security   off\nrequire-totp             disabled\nsso-only                 disabled\nbreak-glass-user         -\n',
  );
  assert.equal((await home.run(['settings', 'get', 'sa-lifetime'])).stdout, '1h30m\n');
  assert.deepEqual(JSON.parse((await home.run(['settings', 'get', 'web-kubectl', '-o', 'json'])).stdout), {
    webKubectl: true,
  });
});

test('settings set sends the API field in a PATCH body', async () => {
  const cases: [string, string, Record<string, unknown>, string][] = [
    [
      'kubeconfig-validity',
      '30d',
      { kubeconfigValiditySeconds: 2_592_000 },
      'kubeconfig-validity set to 30d',
    ],
    ['sa-lifetime', '900', { saLifetimeSeconds: 900 }, 'sa-lifetime set to 15m'],
    ['web-kubectl', 'off', { webKubectl: false }, 'web-kubectl set to disabled'],
    ['cli-kubectl', 'Enabled', { cliKubectl: true }, 'cli-kubectl set to enabled'],
    ['cli-kubectl', 'false', { cliKubectl: false }, 'cli-kubectl set to disabled'],
    [
      'namespace-pod-security',
      'Restricted',
      { namespacePodSecurity: 'restricted' },
      'namespace-pod-security set to restricted',
    ],
    ['namespace-pod-security', 'off', { namespacePodSecurity: 'off' }, 'namespace-pod-security set to off'],
    ['require-totp', 'on', { requireTotp: true }, 'require-totp set to enabled'],
    [
      'break-glass-user',
      'Root@Example.com',
      { breakGlassUser: 'Root@Example.com' },
      'break-glass-user set to Root@Example.com',
    ],
    ['sso-only', 'on', { ssoOnly: true }, 'sso-only set to enabled'],
    ['break-glass-user', 'none', { breakGlassUser: '' }, 'break-glass-user set to -'],
  ];
  for (const [key, value, body, printed] of cases) {
    const result = await home.run(['settings', 'set', key, value]);
    assert.equal(result.code, 0, result.stderr);
    const req = fake.requests.at(-1);
    assert.equal(req?.method, 'PATCH');
    assert.deepEqual(req?.json, body);
    assert.equal(result.stdout, `${printed}\n`);
  }
  const count = fake.requests.length;
  const bad = await home.run(['settings', 'set', 'web-kubectl', 'maybe']);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    'ztka: web-kubectl: invalid switch "maybe": use on/off, true/false or enabled/disabled\n',
  );
  const privileged = await home.run(['settings', 'set', 'namespace-pod-security', 'privileged']);
  assert.equal(privileged.code, 2);
  assert.equal(
    privileged.stderr,
    'ztka: namespace-pod-security: invalid level "privileged": use off, baseline, restricted\n',
  );
  assert.equal(fake.requests.length, count);
});
