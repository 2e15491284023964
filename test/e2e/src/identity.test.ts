// Identity and access through the real controller, a real agent and the real apiserver: the authorization
// matrix (every role × project scope × channel), revocation taking effect within a second, kube token
// expiry, and a wrong CA.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROLES, type Role } from '@ztka/protocol';
import type { KubectlError } from '@ztka/testenv';
import { controllerRequest, kubectl, testEnv, Ztka, type TestEnv } from '@ztka/testenv';
import { sessionCookie, WebShell } from './support/web-shell.js';

const CLUSTER = 'desktop';
const OTHER_CLUSTER = 'elsewhere';
const KUBE_TOKEN_TTL_S = 3;

let env: TestEnv;
let z: Ztka;

before(async () => {
  env = await testEnv();
  z = await Ztka.start({ env: { ZTKA_KUBE_TOKEN_TTL_SECONDS: String(KUBE_TOKEN_TTL_S) } });
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
  // A second project whose cluster exists but has no agent: a user of `desktop` must not learn of it.
  await z.api('POST', '/v1/projects', { name: 'other' });
  await z.api('POST', '/v1/clusters', { name: OTHER_CLUSTER, project: 'other' });
});
after(() => z?.stop());

/** GET through the proxy with a bearer kube credential; returns the status. */
function kubeGet(token: string, cluster: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(
        `${z.url}/k8s/clusters/${cluster}${path}`,
        { ca: z.ca, headers: { authorization: `Bearer ${token}` } },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      )
      .on('error', reject);
  });
}

/** Polls until `check` holds, failing after `ms`: how "within a second" is measured. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) assert.fail(`${what} did not happen within ${ms} ms`);
    await sleep(20);
  }
}

/** A browser shell on CLUSTER, as the person would open it from the console. */
async function openShell(username: string, password: string): Promise<WebShell> {
  return WebShell.open(z, await sessionCookie(z, username, password), CLUSTER);
}

describe('the authorization matrix at the controller', () => {
  const scopes = ['own project', 'other project'] as const;
  for (const role of ROLES) {
    for (const scope of scopes) {
      const orgWide = role === 'ADMIN' || role === 'ADMIN_READ_ONLY';
      if (orgWide && scope === 'other project') continue; // org-wide roles have no project
      const expected = orgWide || scope === 'own project' ? 200 : 403;
      test(`${role} (${orgWide ? 'org-wide' : scope}) → ${expected} over the CLI and the web shell`, async () => {
        const username = `${role.toLowerCase().replace(/_/g, '-')}-${scope.split(' ')[0]}@example.com`;
        const assignment: { role: Role; project?: string; namespaces?: string[] } = { role };
        if (!orgWide) assignment.project = scope === 'own project' ? 'desktop' : 'other';
        if (role.startsWith('NAMESPACE')) assignment.namespaces = ['default'];
        const user = await z.createUser(username, [assignment]);

        const path = '/api/v1/namespaces/default/configmaps';
        // The CLI channel: a kubeconfig credential. A user with no cluster in reach cannot even get one.
        if (expected === 200) {
          const cli = await z.kubeToken(CLUSTER, user.apiKey);
          assert.equal((await kubeGet(cli, CLUSTER, path)).status, 200);
        } else {
          const refused = await z.api('POST', '/v1/kubeconfig', { cluster: CLUSTER }, user.apiKey);
          assert.equal(refused.status, 403);
          // Nor can an all-clusters kubeconfig credential be turned on a cluster outside its projects.
          const own = await z.kubeToken(undefined, user.apiKey);
          const denied = await kubeGet(own, CLUSTER, path);
          assert.equal(denied.status, 403);
          // An existing cluster and a missing one look exactly the same.
          const missing = await kubeGet(own, 'nowhere', path);
          assert.deepEqual(
            [missing.status, missing.body.replace('nowhere', CLUSTER)],
            [denied.status, denied.body],
          );
        }
        // The web-shell channel: the browser shell itself, with its sandboxed kubectl.
        if (expected === 200) {
          const shell = await openShell(username, user.password);
          try {
            await shell.ready();
            const out = await shell.run('kubectl get configmaps -n default');
            assert.doesNotMatch(out, /Forbidden|\[exit/, out);
          } finally {
            shell.close();
          }
        } else {
          await assert.rejects(openShell(username, user.password), /403/);
        }
      });
    }
  }

  test('a token for one cluster is refused on another, even for an org admin', async () => {
    const token = await z.kubeToken(CLUSTER);
    const res = await kubeGet(token, OTHER_CLUSTER, '/api');
    assert.equal(res.status, 403);
    assert.match(res.body, /issued for another cluster/);
  });

  test('switching a channel off in the org settings refuses it within a second, and only it', async () => {
    const user = await z.createUser('channels@example.com', [{ role: 'PROJECT_ADMIN', project: 'desktop' }]);
    const cli = await z.kubeToken(CLUSTER, user.apiKey);
    const shell = await openShell(user.username, user.password);
    try {
      await shell.ready();
      assert.equal((await z.api('PATCH', '/v1/settings', { cliKubectl: false })).status, 200);
      await within(1000, 'CLI refused', async () => (await kubeGet(cli, CLUSTER, '/api')).status === 403);
      assert.match(await shell.run('kubectl get ns default'), /default\s+Active/);
      assert.equal(
        (await z.api('PATCH', '/v1/settings', { cliKubectl: true, webKubectl: false })).status,
        200,
      );
      await within(1000, 'the shell ended', async () => shell.exits.length > 0);
      assert.deepEqual(shell.exits, ['your access to this cluster has ended']);
      assert.equal((await kubeGet(cli, CLUSTER, '/api')).status, 200);
      await assert.rejects(openShell(user.username, user.password), /403/);
    } finally {
      shell.close();
      await z.api('PATCH', '/v1/settings', { cliKubectl: true, webKubectl: true });
    }
  });
});

describe('revocation takes effect within a second', () => {
  test('disabling a user refuses their kubeconfig, tokens and API key', async () => {
    const user = await z.createUser('disable-me@example.com', [
      { role: 'PROJECT_READ_ONLY', project: 'desktop' },
    ]);
    const kube = await z.kubeToken(CLUSTER, user.apiKey);
    assert.equal((await kubeGet(kube, CLUSTER, '/api/v1/namespaces')).status, 200);
    assert.equal((await z.api('POST', '/v1/users/disable-me@example.com/disable')).status, 200);
    const ms = await within(
      1000,
      'refusal',
      async () => (await kubeGet(kube, CLUSTER, '/api/v1/namespaces')).status === 401,
    );
    assert.ok(ms < 1000);
    assert.equal((await z.api('GET', '/v1/auth/whoami', undefined, user.apiKey)).status, 401);
  });

  test('deleting a user, removing their role or revoking the credential each refuse at once', async () => {
    const a = await z.createUser('delete-me@example.com', [
      { role: 'PROJECT_READ_ONLY', project: 'desktop' },
    ]);
    const ka = await z.kubeToken(CLUSTER, a.apiKey);
    assert.equal((await z.api('DELETE', '/v1/users/delete-me@example.com')).status, 204);
    await within(
      1000,
      'deleted user refused',
      async () => (await kubeGet(ka, CLUSTER, '/api')).status === 401,
    );

    const b = await z.createUser('lose-role@example.com', [
      { role: 'PROJECT_READ_ONLY', project: 'desktop' },
    ]);
    const kb = await z.kubeToken(CLUSTER, b.apiKey);
    assert.equal((await kubeGet(kb, CLUSTER, '/api')).status, 200);
    const roles = await z.api<{ items: { id: string }[] }>(
      'GET',
      '/v1/role-assignments?user=lose-role@example.com',
    );
    assert.equal(
      (await z.api('DELETE', `/v1/role-assignments/${roles.body.items[0]?.id ?? ''}`)).status,
      204,
    );
    await within(1000, 'role removal', async () => (await kubeGet(kb, CLUSTER, '/api')).status === 403);

    const c = await z.createUser('revoke-cred@example.com', [
      { role: 'PROJECT_READ_ONLY', project: 'desktop' },
    ]);
    const kc = await z.kubeToken(CLUSTER, c.apiKey);
    const creds = await z.api<{ items: { id: string; kind: string }[] }>(
      'GET',
      '/v1/credentials',
      undefined,
      c.apiKey,
    );
    const kubeconfigCred = creds.body.items.find((x) => x.kind === 'kubeconfig');
    assert.ok(kubeconfigCred);
    assert.equal(
      (await z.api('DELETE', `/v1/credentials/${kubeconfigCred.id}`, undefined, c.apiKey)).status,
      204,
    );
    await within(
      1000,
      'revoked credential refused',
      async () => (await kubeGet(kc, CLUSTER, '/api')).status === 401,
    );
    // A revoked API key is refused on the REST API too.
    const key = creds.body.items.find((x) => x.kind === 'api_key');
    assert.ok(key);
    assert.equal((await z.api('DELETE', `/v1/credentials/${key.id}`)).status, 204);
    assert.equal((await z.api('GET', '/v1/auth/whoami', undefined, c.apiKey)).status, 401);
  });

  test('a group member inherits the group role and loses it with the membership', async () => {
    const user = await z.createUser('member@example.com');
    assert.equal((await z.api('POST', '/v1/kubeconfig', { cluster: CLUSTER }, user.apiKey)).status, 403);
    assert.equal((await z.api('POST', '/v1/groups', { name: 'viewers' })).status, 201);
    assert.equal(
      (
        await z.api('POST', '/v1/role-assignments', {
          group: 'viewers',
          role: 'PROJECT_READ_ONLY',
          project: 'desktop',
        })
      ).status,
      201,
    );
    assert.equal((await z.api('PUT', '/v1/groups/viewers/members/member@example.com')).status, 204);
    const token = await z.kubeToken(CLUSTER, user.apiKey);
    assert.equal((await kubeGet(token, CLUSTER, '/api/v1/namespaces')).status, 200);
    assert.equal((await z.api('DELETE', '/v1/groups/viewers/members/member@example.com')).status, 204);
    await within(
      1000,
      'membership removal',
      async () => (await kubeGet(token, CLUSTER, '/api')).status === 403,
    );
  });
});

test('a kube token expires after its lifetime', async () => {
  const res = await z.api<{ token: string; expiresAt: string }>('POST', '/v1/tokens', { cluster: CLUSTER });
  assert.equal(res.status, 200);
  const lifetime = Date.parse(res.body.expiresAt) - Date.now();
  assert.ok(lifetime <= KUBE_TOKEN_TTL_S * 1000 && lifetime > 0, `lifetime ${lifetime}`);
  const fresh = await kubeGet(res.body.token, CLUSTER, '/api');
  assert.equal(fresh.status, 200, fresh.body);
  await sleep(lifetime + 50);
  assert.equal((await kubeGet(res.body.token, CLUSTER, '/api')).status, 401);
});

test('kubectl refuses a controller whose certificate its kubeconfig CA did not sign', async () => {
  const good = await z.kubeconfig(CLUSTER);
  const otherCa = Buffer.from(await fs.readFile(path.join(env.pkiDir, 'ca.crt'), 'utf8')).toString('base64');
  const bad = good.replace(/\.kubeconfig$/, '-wrong-ca.kubeconfig');
  await fs.writeFile(
    bad,
    (await fs.readFile(good, 'utf8')).replace(
      /certificate-authority-data: \S+/,
      `certificate-authority-data: ${otherCa}`,
    ),
  );
  await kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig: good });
  await assert.rejects(
    kubectl(['get', 'ns', 'default', '-o', 'name'], { kubeconfig: bad }),
    (err: KubectlError) => {
      assert.match(err.stderr, /x509|certificate/);
      return true;
    },
  );
});

test('the REST API refuses a client that does not trust the controller CA', async () => {
  await assert.rejects(
    controllerRequest(
      { url: z.url, ca: await fs.readFile(path.join(env.pkiDir, 'ca.crt'), 'utf8'), token: null },
      'GET',
      '/healthz',
    ),
    /certificate|self.signed|unable to verify/,
  );
});
