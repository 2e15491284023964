import assert from 'node:assert/strict';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { selfSignedCert } from '@ztka/testenv';
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
