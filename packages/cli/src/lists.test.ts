import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import type { FakeController } from './testing/fake-controller.js';
import { startFake } from './testing/fake-controller.js';
import { makeHome, TEST_API_KEY, type Home } from './testing/run-cli.js';

/** A role assignment's id: the server's are UUIDs. */
const ra = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

const recent = (secondsAgo: number): string => new Date(Date.now() - secondsAgo * 1000).toISOString();

const CLUSTERS = [
  {
    name: 'desktop',
    project: 'lab',
    connected: true,
    lastSeenAt: recent(30),
    agentVersion: '0.1.0',
    kubeVersion: 'v1.31.2',
  },
  {
    name: 'edge-7',
    project: 'edge',
    connected: false,
    lastSeenAt: recent(3 * 3600),
    agentVersion: '0.1.0',
    kubeVersion: 'v1.30.0',
  },
  { name: 'new', project: 'edge', connected: false, lastSeenAt: null, agentVersion: null, kubeVersion: null },
];

let fake: FakeController;
let home: Home;
const deleted: string[] = [];

before(async () => {
  fake = await startFake({
    // Two pages, to prove every page is fetched.
    'GET /v1/clusters': (req) => {
      const items = CLUSTERS.filter(
        (c) => req.query.get('project') === null || c.project === req.query.get('project'),
      );
      return req.query.get('cursor') === 'page2'
        ? { json: { items: items.slice(2) } }
        : { json: { items: items.slice(0, 2), ...(items.length > 2 ? { nextCursor: 'page2' } : {}) } };
    },
    'GET /v1/projects': () => ({ json: { items: [] } }),
    'GET /v1/role-assignments': (req) => ({
      json: {
        items:
          req.query.get('user') === 'bob'
            ? [
                { id: ra(1), role: 'NAMESPACE_ADMIN', user: 'bob', project: 'lab', namespaces: ['a', 'b'] },
                { id: ra(2), role: 'NAMESPACE_ADMIN', user: 'bob', project: 'lab', namespaces: ['c'] },
                { id: ra(3), role: 'NAMESPACE_ADMIN', group: 'devs', project: 'lab', namespaces: ['a', 'b'] },
                { id: ra(4), role: 'PROJECT_READ_ONLY', user: 'bob', project: 'edge' },
              ]
            : [],
      },
    }),
    [`DELETE /v1/role-assignments/${ra(1)}`]: () => (deleted.push(ra(1)), { status: 204 }),
    [`DELETE /v1/role-assignments/${ra(2)}`]: () => (deleted.push(ra(2)), { status: 204 }),
    [`DELETE /v1/role-assignments/${ra(4)}`]: () => (deleted.push(ra(4)), { status: 204 }),
    'POST /v1/role-assignments': (req) => ({ status: 201, json: { id: ra(9), ...(req.json as object) } }),
    'POST /v1/users': (req) => ({
      status: 201,
      json: { username: (req.json as { username: string }).username },
    }),
    'PUT /v1/users/bob%40example.com/password': () => ({ status: 204 }),
    'POST /v1/clusters': () => ({
      status: 201,
      json: {
        cluster: CLUSTERS[2],
        bootstrapToken: { token: 'ztkb_abc.def', expiresAt: '2099-01-01T00:00:00.000Z' },
        manifestUrl: `${fake.url}/v1/clusters/new/bootstrap.yaml`,
      },
    }),
    'GET /v1/clusters/new/bootstrap.yaml': () => ({
      text: 'apiVersion: v1\nkind: Namespace\n',
      contentType: 'application/yaml',
    }),
  });
  home = makeHome();
  await home.login(fake.url);
});

after(async () => {
  home.remove();
  await fake.close();
});

test('clusters list prints every page as a table', async () => {
  const result = await home.run(['clusters', 'list']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    // Seen 30 s before the fixture was made; a slow machine may take a few seconds more to print it.
    result.stdout.replace(/ 3\ds ago\n/, ' 30s ago\n'),
    [
      'NAME      PROJECT   STATUS         KUBERNETES   AGENT   LAST SEEN',
      'desktop   lab       connected      v1.31.2      0.1.0   30s ago',
      'edge-7    edge      disconnected   v1.30.0      0.1.0   3h ago',
      'new       edge      disconnected   -            -       never',
      '',
    ].join('\n'),
  );
  const requests = fake.requests.filter((r) => r.path === '/v1/clusters').slice(-2);
  assert.deepEqual(
    requests.map((r) => r.query.toString()),
    ['limit=500', 'limit=500&cursor=page2'],
  );
  for (const r of requests) assert.equal(r.headers.authorization, `Bearer ${TEST_API_KEY}`);
});

test('-o json and -o yaml print the API objects of every page', async () => {
  const json = await home.run(['clusters', 'list', '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), CLUSTERS);
  const yaml = await home.run(['clusters', 'list', '--output', 'yaml']);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.deepEqual(YAML.parse(yaml.stdout), CLUSTERS);
});

test('--project filters on the server', async () => {
  const result = await home.run(['clusters', 'list', '--project', 'lab', '-o', 'json']);
  assert.deepEqual(
    (JSON.parse(result.stdout) as { name: string }[]).map((c) => c.name),
    ['desktop'],
  );
  assert.equal(fake.requests.at(-1)?.query.get('project'), 'lab');
});

test('an empty list says so on stderr and prints nothing', async () => {
  const result = await home.run(['projects', 'list']);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, 'No projects found.\n');
  assert.equal((await home.run(['projects', 'list', '-o', 'json'])).stdout, '[]\n');
});

test('roles revoke deletes the subject’s own matching assignments, never a group’s', async () => {
  deleted.length = 0;
  const narrow = await home.run([
    'roles',
    'revoke',
    '--user',
    'bob',
    '--role',
    'namespace_admin',
    '--project',
    'lab',
    '--namespaces',
    'b,a',
  ]);
  assert.equal(narrow.code, 0, narrow.stderr);
  assert.deepEqual(deleted, [ra(1)]);
  assert.equal(narrow.stdout, 'Revoked NAMESPACE_ADMIN project=lab namespaces=a,b from user bob\n');

  deleted.length = 0;
  const wide = await home.run([
    'roles',
    'revoke',
    '--user',
    'bob',
    '--role',
    'NAMESPACE_ADMIN',
    '--project',
    'lab',
  ]);
  assert.equal(wide.code, 0, wide.stderr);
  assert.deepEqual(deleted, [ra(1), ra(2)]);

  deleted.length = 0;
  const none = await home.run([
    'roles',
    'revoke',
    '--user',
    'bob',
    '--role',
    'PROJECT_READ_ONLY',
    '--project',
    'lab',
  ]);
  assert.equal(none.code, 1);
  assert.equal(none.stderr, 'ztka: no such role assignment\n');
  assert.deepEqual(deleted, []);
});

test('roles assign sends the uppercased role and its scope', async () => {
  const result = await home.run([
    'roles',
    'assign',
    '--group',
    'devs',
    '--role',
    'namespace_read_only',
    '--project',
    'lab',
    '--namespaces',
    'a, b',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(fake.requests.at(-1)?.json, {
    group: 'devs',
    role: 'NAMESPACE_READ_ONLY',
    project: 'lab',
    namespaces: ['a', 'b'],
  });

  const bad = await home.run(['roles', 'assign', '--user', 'bob', '--role', 'ADMIN', '--project', 'lab']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, 'ztka: ADMIN is org-wide: it takes no --project\n');
  const unknown = await home.run(['roles', 'assign', '--user', 'bob', '--role', 'ROOT']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^ztka: unknown role "ROOT": use one of ADMIN, .*NAMESPACE_READ_ONLY\n$/);
});

test('users create and set-password take the password from stdin only', async () => {
  const noPassword = await home.run(['users', 'create', 'carol']);
  assert.equal(noPassword.code, 0, noPassword.stderr);
  assert.deepEqual(fake.requests.at(-1)?.json, { username: 'carol' });

  const withPassword = await home.run(['users', 'create', 'dave', '--password-stdin'], {
    input: 'pw-dave\n',
  });
  assert.equal(withPassword.code, 0, withPassword.stderr);
  assert.deepEqual(fake.requests.at(-1)?.json, { username: 'dave', password: 'pw-dave' });

  const set = await home.run(['users', 'set-password', 'bob@example.com', '--password-stdin'], {
    input: 'new-pw\n',
  });
  assert.equal(set.code, 0, set.stderr);
  const put = fake.requests.at(-1);
  assert.equal(put?.method, 'PUT');
  assert.equal(put?.path, '/v1/users/bob%40example.com/password');
  assert.deepEqual(put?.json, { password: 'new-pw' });
});

test('clusters create shows the token and how to install; bootstrap prints the manifest verbatim', async () => {
  const created = await home.run(['clusters', 'create', 'new', '--project', 'edge']);
  assert.equal(created.code, 0, created.stderr);
  assert.deepEqual(fake.requests.at(-1)?.json, { name: 'new', project: 'edge' });
  assert.match(created.stdout, /ztkb_abc\.def/);
  assert.match(created.stdout, /ztka clusters bootstrap new \| kubectl apply -f -/);

  const manifest = await home.run(['clusters', 'bootstrap', 'new']);
  assert.equal(manifest.code, 0, manifest.stderr);
  assert.equal(manifest.stdout, 'apiVersion: v1\nkind: Namespace\n');
});
