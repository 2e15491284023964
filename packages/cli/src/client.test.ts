import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, Client } from './client.js';
import { CliError } from './errors.js';
import { startFake } from './testing/fake-controller.js';

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a server that does not answer fails after the timeout, naming the server', async () => {
  const fake = await startFake({ 'GET /v1/settings': () => ({ hang: true }) });
  try {
    const started = Date.now();
    await assert.rejects(
      new Client({ server: fake.url, timeoutMs: 200 }).json('GET', '/v1/settings'),
      (err) => {
        assert.ok(err instanceof CliError);
        assert.equal(err.message, `cannot reach ${fake.url}: no answer within 0.2s`);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5_000);
  } finally {
    await fake.close();
  }
});

test('a refused connection says which server and why', async () => {
  const server = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(new Client({ server }).json('GET', '/v1/auth/whoami'), {
    message: `cannot reach ${server}: connection refused`,
  });
});

test("API errors carry the API's code, message and field", async () => {
  const fake = await startFake({
    'POST /v1/projects': () => ({
      status: 400,
      json: { code: 'bad_request', message: 'name must be a DNS-1123 label', field: '/name' },
    }),
    'GET /v1/projects': () => ({ status: 502, text: '<html>Bad Gateway</html>', contentType: 'text/html' }),
  });
  try {
    const client = new Client({ server: fake.url, apiKey: 'k' });
    await assert.rejects(client.json('POST', '/v1/projects', { name: 'X' }), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'bad_request');
      assert.equal(err.field, '/name');
      assert.equal(err.message, 'name must be a DNS-1123 label');
      return true;
    });
    // Something in between answered, not the API: say what happened without showing its HTML.
    await assert.rejects(client.json('GET', '/v1/projects'), {
      message: 'the server answered 502 Bad Gateway',
    });
  } finally {
    await fake.close();
  }
});

test('https trusts the given CA and refuses an unknown one', async () => {
  const fake = await startFake({ 'GET /v1/settings': () => ({ json: { webKubectl: true } }) }, { tls: true });
  try {
    assert.deepEqual(await new Client({ server: fake.url, ca: fake.certPem }).json('GET', '/v1/settings'), {
      webKubectl: true,
    });
    await assert.rejects(new Client({ server: fake.url }).json('GET', '/v1/settings'), {
      message: `cannot reach ${fake.url}: its certificate is not trusted (self-signed); log in with --ca-file`,
    });
  } finally {
    await fake.close();
  }
});

test('lists follow nextCursor and refuse a cursor that repeats', async () => {
  const fake = await startFake({
    'GET /v1/groups': (req) => {
      const cursor = req.query.get('cursor');
      if (cursor === null) return { json: { items: [{ name: 'a' }], nextCursor: 'p2' } };
      if (cursor === 'p2') return { json: { items: [{ name: 'b' }], nextCursor: 'p3' } };
      return { json: { items: [{ name: 'c' }] } };
    },
    'GET /v1/users': () => ({ json: { items: [], nextCursor: 'again' } }),
  });
  try {
    const client = new Client({ server: fake.url, apiKey: 'k' });
    assert.deepEqual(await client.listAll('/v1/groups'), [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    assert.deepEqual(
      fake.requests.map((r) => r.query.toString()),
      ['limit=500', 'limit=500&cursor=p2', 'limit=500&cursor=p3'],
    );
    await assert.rejects(client.listAll('/v1/users'), /repeated a list cursor/);
  } finally {
    await fake.close();
  }
});
