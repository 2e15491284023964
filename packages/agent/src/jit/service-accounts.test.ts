import assert from 'node:assert/strict';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { selfSignedCert } from '@ztka/testenv';
import { ZtkaError } from '@ztka/protocol';
import { serviceAccountName } from './names.js';
import { JitServiceAccounts } from './service-accounts.js';
import type { UpstreamTarget } from '../upstream.js';

interface Review {
  token: string;
  attributes: Record<string, string>;
}

/**
 * A stand-in apiserver that makes accounts and bindings, and answers a SelfSubjectAccessReview with
 * `allowed` only from the `seenAfter`-th on: an authorizer that sees new bindings late, as a busy one does.
 */
async function apiserver(seenAfter: number, reviewStatus = 201) {
  const pem = selfSignedCert();
  const reviews: Review[] = [];
  const server = https.createServer(pem, (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, json: object) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const url = req.url ?? '';
      if (url.endsWith('/selfsubjectaccessreviews')) {
        const spec = (JSON.parse(body) as { spec: { resourceAttributes: Record<string, string> } }).spec;
        reviews.push({
          token: String(req.headers.authorization),
          attributes: spec.resourceAttributes,
        });
        return send(reviewStatus, { status: { allowed: reviews.length > seenAfter } });
      }
      if (url.endsWith('/token')) return send(201, { status: { token: 'the-new-token' } });
      if (req.method === 'GET' && url.includes('bindings?')) return send(200, { items: [] });
      if (req.method === 'GET' && url.includes('/clusterroles/')) return send(200, {});
      if (req.method === 'POST') return send(201, {});
      send(404, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const target: UpstreamTarget = {
    server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    agent: new https.Agent({ ca: pem.cert }),
    headers: { authorization: 'Bearer the-agents-own' },
  };
  const jit = new JitServiceAccounts({
    own: async () => target,
    asAccount: async (token) => ({ ...target, headers: { authorization: `Bearer ${token}` } }),
    namespace: 'ztka-system',
    log: pino({ level: 'silent' }),
  });
  return { jit, reviews, close: () => new Promise((resolve) => server.close(resolve)) };
}

const person = {
  user: 'demos@rafay.co',
  userId: 'u-1',
  role: 'NAMESPACE_ADMIN',
  namespaces: ['team-a'],
  readOnlyNamespaces: ['team-b'],
};

test("a new account's token is handed out only once the authorizer counts each of its bindings", async () => {
  const api = await apiserver(3);
  try {
    assert.equal(await api.jit.tokenFor(person), 'the-new-token');
    // Asked as the account itself, in each namespace it was bound in, until the answer was yes.
    assert.equal(api.reviews.length, 5, 'three refusals for team-a, then one yes each');
    assert.ok(api.reviews.every((r) => r.token === 'Bearer the-new-token'));
    assert.deepEqual(
      api.reviews.map((r) => r.attributes['namespace']),
      ['team-a', 'team-a', 'team-a', 'team-a', 'team-b'],
    );
    assert.ok(
      api.reviews.every((r) => r.attributes['verb'] === 'get' && r.attributes['resource'] === 'pods'),
    );
    // Known and bound: the next request asks nothing.
    await api.jit.tokenFor(person);
    assert.equal(api.reviews.length, 5);
  } finally {
    await api.close();
  }
});

test('a cluster-wide binding is checked cluster-wide', async () => {
  const api = await apiserver(0);
  try {
    await api.jit.tokenFor({ user: 'ops@example.com', userId: 'u-2', role: 'ADMIN' });
    assert.equal(api.reviews.length, 1);
    assert.equal(api.reviews[0]?.attributes['namespace'], undefined);
  } finally {
    await api.close();
  }
});

test('a cluster where accounts may not review themselves is not waited on', async () => {
  const api = await apiserver(1000, 403);
  try {
    const started = Date.now();
    assert.equal(await api.jit.tokenFor(person), 'the-new-token');
    assert.equal(api.reviews.length, 1, 'asked once, then given up');
    assert.ok(Date.now() - started < 1000);
  } finally {
    await api.close();
  }
});

interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface StoredBinding {
  metadata: Meta;
  roleRef: { name: string };
}

/**
 * A stand-in apiserver that keeps what it is asked to make: service accounts in the JIT namespace (with
 * uids, resource versions and label selection) and role bindings. Enough of the apiserver's rules that an
 * account's whole life can be followed.
 */
async function keepingApiserver() {
  const pem = selfSignedCert();
  const accounts = new Map<string, Meta>();
  const bindings = new Map<string, StoredBinding>();
  let version = 0;
  let tokensMade = 0;
  const selected = (labels: Record<string, string> | undefined, selector: string) =>
    selector
      .split(',')
      .filter(Boolean)
      .every((term) => {
        const [k = '', v = ''] = term.split('=');
        return labels?.[k] === v;
      });
  const server = https.createServer(pem, (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, json: object = {}) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const url = new URL(req.url ?? '/', 'https://apiserver');
      const path = url.pathname;
      const selector = url.searchParams.get('labelSelector') ?? '';
      const json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      const sa = /^\/api\/v1\/namespaces\/ztka-system\/serviceaccounts(?:\/([^/]+))?(\/token)?$/.exec(path);
      if (sa) {
        const name = sa[1];
        if (sa[2]) return send(201, { status: { token: `token-${name}-${++tokensMade}` } });
        if (!name && req.method === 'GET')
          return send(200, {
            items: [...accounts.values()]
              .filter((m) => selected(m.labels, selector))
              .map((m) => ({ metadata: m })),
          });
        if (!name && req.method === 'POST') {
          const meta = (json as { metadata: Meta }).metadata;
          if (accounts.has(meta.name)) return send(409);
          accounts.set(meta.name, { ...meta, uid: `uid-${++version}`, resourceVersion: String(version) });
          return send(201);
        }
        const existing = name === undefined ? undefined : accounts.get(name);
        if (!existing) return send(404);
        if (req.method === 'GET') return send(200, { metadata: existing });
        if (req.method === 'PATCH') {
          // A JSON patch would be a list of operations: the agent sends merge patches.
          if (req.headers['content-type'] !== 'application/merge-patch+json') return send(415);
          const patch = (json as { metadata: Meta }).metadata;
          if (patch.resourceVersion && patch.resourceVersion !== existing.resourceVersion) return send(409);
          existing.labels = { ...existing.labels, ...patch.labels };
          existing.annotations = { ...existing.annotations, ...patch.annotations };
          existing.resourceVersion = String(++version);
          return send(200, { metadata: existing });
        }
        if (req.method === 'DELETE') {
          const uid = (json as { preconditions?: { uid?: string } }).preconditions?.uid;
          if (uid && uid !== existing.uid) return send(409);
          accounts.delete(existing.name);
          return send(200);
        }
      }
      const rbac =
        /^\/apis\/rbac\.authorization\.k8s\.io\/v1(?:\/namespaces\/([^/]+))?\/(clusterrolebindings|rolebindings|clusterroles)(?:\/([^/]+))?$/.exec(
          path,
        );
      if (rbac) {
        const [, namespace, kind, name] = rbac;
        if (kind === 'clusterroles') return send(200);
        const key = (ns: string | undefined, n: string) => `${kind}/${ns ?? ''}/${n}`;
        if (req.method === 'GET')
          return send(200, {
            items: [...bindings.entries()]
              .filter(([k, b]) => k.startsWith(`${kind}/`) && selected(b.metadata.labels, selector))
              .map(([, b]) => b),
          });
        if (req.method === 'POST') {
          const b = json as unknown as StoredBinding;
          bindings.set(key(namespace, b.metadata.name), b);
          return send(201);
        }
        if (req.method === 'DELETE' && name) return send(bindings.delete(key(namespace, name)) ? 200 : 404);
      }
      if (path.endsWith('/selfsubjectaccessreviews')) return send(201, { status: { allowed: true } });
      send(404);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const target: UpstreamTarget = {
    server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    agent: new https.Agent({ ca: pem.cert }),
    headers: { authorization: 'Bearer the-agents-own' },
  };
  let now = Date.parse('2026-01-01T00:00:00Z');
  const jit = new JitServiceAccounts({
    own: async () => target,
    asAccount: async (token) => ({ ...target, headers: { authorization: `Bearer ${token}` } }),
    namespace: 'ztka-system',
    log: pino({ level: 'silent' }),
    clock: () => now,
  });
  return {
    jit,
    accounts,
    bindings,
    tokensMade: () => tokensMade,
    advance: (ms: number) => (now += ms),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const alice = {
  user: 'alice@example.com',
  userId: 'u-alice',
  role: 'NAMESPACE_ADMIN',
  namespaces: ['team-a'],
};
const bob = { user: 'bob@example.com', userId: 'u-bob', role: 'ADMIN' };
const roleRefs = (bindings: Map<string, StoredBinding>) =>
  [...bindings.values()].map((b) => b.roleRef.name).sort();

test('an account is made once, with its owner recorded, and its token reused while fresh', async () => {
  const api = await keepingApiserver();
  try {
    const token = await api.jit.tokenFor(alice);
    assert.equal(await api.jit.tokenFor(alice), token);
    assert.equal(api.tokensMade(), 1);
    const account = api.accounts.get(serviceAccountName(alice.user));
    assert.equal(account?.labels?.['ztka.dev/jit'], 'true');
    assert.equal(account?.annotations?.['ztka.dev/user-id'], 'u-alice');
    assert.deepEqual(roleRefs(api.bindings), ['admin']);
    // A token close to its end is replaced before it is handed out.
    api.advance(3600_000);
    assert.notEqual(await api.jit.tokenFor(alice), token);
  } finally {
    await api.close();
  }
});

test('a changed role converges the bindings: the old one deleted, the new one made', async () => {
  const api = await keepingApiserver();
  try {
    await api.jit.tokenFor(alice);
    await api.jit.tokenFor({ ...alice, namespaces: ['team-b'], readOnlyNamespaces: ['team-c'] });
    assert.deepEqual(
      [...api.bindings.values()].map((b) => `${b.roleRef.name}@${b.metadata.namespace}`).sort(),
      ['admin@team-b', 'view@team-c'],
    );
  } finally {
    await api.close();
  }
});

test("an account of the same name that is not ztka's, or is another person's, is never taken over", async () => {
  const api = await keepingApiserver();
  try {
    const name = serviceAccountName(alice.user);
    api.accounts.set(name, { name, uid: 'theirs', resourceVersion: '1' });
    await assert.rejects(api.jit.tokenFor(alice), (err: unknown) => {
      assert.ok(err instanceof ZtkaError);
      assert.equal(err.code, 'forbidden');
      return true;
    });
    // Revoking the person leaves an account that is not ztka's alone.
    await api.jit.revoke(alice.user);
    assert.equal(api.accounts.get(name)?.uid, 'theirs');
    api.accounts.set(name, {
      name,
      uid: 'another-persons',
      resourceVersion: '1',
      labels: { 'ztka.dev/jit': 'true' },
      annotations: { 'ztka.dev/user': alice.user, 'ztka.dev/user-id': 'u-someone-else' },
    });
    await assert.rejects(api.jit.tokenFor(alice), ZtkaError);
    assert.equal(api.bindings.size, 0, 'no binding was made for a refused account');
  } finally {
    await api.close();
  }
});

test('revoking deletes the account and its bindings, and the next use makes them afresh', async () => {
  const api = await keepingApiserver();
  try {
    await api.jit.tokenFor(alice);
    await api.jit.revoke(alice.user);
    assert.equal(api.accounts.size, 0);
    assert.equal(api.bindings.size, 0);
    await api.jit.tokenFor(alice);
    assert.equal(api.accounts.size, 1);
    assert.equal(api.tokensMade(), 2, 'the cached token died with the account');
  } finally {
    await api.close();
  }
});

test('the sweep deletes accounts past their lifetime, and use extends it', async () => {
  const api = await keepingApiserver();
  try {
    const lifetime = { saLifetimeSeconds: 600 };
    await api.jit.tokenFor({ ...alice, ...lifetime });
    await api.jit.tokenFor({ ...bob, ...lifetime });
    api.advance(500_000);
    await api.jit.tokenFor({ ...alice, ...lifetime }); // used: alive 600 s from now
    await new Promise((resolve) => setTimeout(resolve, 100)); // the extension is written in the background
    api.advance(200_000);
    assert.equal(await api.jit.sweep(), 1);
    assert.deepEqual([...api.accounts.keys()], [serviceAccountName(alice.user)]);
    assert.deepEqual(roleRefs(api.bindings), ['admin']);
  } finally {
    await api.close();
  }
});

test('a sync keeps only the accounts of the people named, recorded with their ids', async () => {
  const api = await keepingApiserver();
  try {
    await api.jit.tokenFor(alice);
    await api.jit.tokenFor(bob);
    // Bob's username now belongs to someone else: his account goes with his id.
    assert.equal(await api.jit.sync([alice.user, bob.user], [alice.userId, 'u-new-bob']), 1);
    assert.deepEqual([...api.accounts.keys()], [serviceAccountName(alice.user)]);
    assert.equal(await api.jit.sync([]), 1);
    assert.equal(api.accounts.size, 0);
    assert.equal(api.bindings.size, 0);
  } finally {
    await api.close();
  }
});
