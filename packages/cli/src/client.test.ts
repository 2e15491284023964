import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
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
    // Streamed requests trust the same CA, and only it.
    let text = '';
    for await (const chunk of await new Client({ server: fake.url, ca: fake.certPem }).stream(
      '/v1/settings',
    )) {
      text += String(chunk);
    }
    assert.deepEqual(JSON.parse(text), { webKubectl: true });
    await assert.rejects(new Client({ server: fake.url }).stream('/v1/settings'), {
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

test('a bounded list stops at its limit, asking only for what is missing', async () => {
  const fake = await startFake({
    'GET /v1/audit/api': (req) => {
      const offset = Number(req.query.get('cursor') ?? '0');
      // Pages of two, whatever was asked; the last page sends one more than asked.
      const items = [offset, offset + 1].map((n) => ({ n }));
      return { json: { items, nextCursor: String(offset + 2) } };
    },
  });
  try {
    const client = new Client({ server: fake.url, apiKey: 'k' });
    const items = await client.list<{ n: number }>('/v1/audit/api', { cluster: 'c' }, 5);
    assert.deepEqual(
      items.map((i) => i.n),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      fake.requests.map((r) => r.query.toString()),
      ['cluster=c&limit=5', 'cluster=c&limit=3&cursor=2', 'cluster=c&limit=1&cursor=4'],
    );
  } finally {
    await fake.close();
  }
});

test('a streamed GET hands the body on, and throws API errors like any request', async () => {
  const fake = await startFake({
    'GET /v1/audit/export': (req) =>
      req.query.get('format') === 'csv'
        ? { text: 'a,b\n1,2\n', contentType: 'text/csv' }
        : { status: 401, json: { code: 'unauthorized', message: 'the API key was revoked' } },
  });
  try {
    const client = new Client({ server: fake.url, apiKey: 'k' });
    const body = await client.stream('/v1/audit/export', { query: { format: 'csv' }, accept: 'text/csv' });
    let text = '';
    for await (const chunk of body) text += String(chunk);
    assert.equal(text, 'a,b\n1,2\n');
    assert.equal(fake.requests[0]?.headers.authorization, 'Bearer k');
    assert.equal(fake.requests[0]?.headers.accept, 'text/csv');
    await assert.rejects(client.stream('/v1/audit/export', { query: { format: 'jsonl' } }), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 401);
      assert.equal(err.message, 'the API key was revoked (run ztka login again)');
      return true;
    });
  } finally {
    await fake.close();
  }
});

test('a streamed body fails when the server goes quiet, but not while the reader is paused', async () => {
  const fake = await startFake({
    'GET /quiet': () => ({
      stream: (async function* () {
        yield 'first';
        await new Promise(() => undefined);
      })(),
    }),
    'GET /steady': () => ({
      stream: (async function* () {
        for (let i = 0; i < 5; i++) {
          yield `chunk ${i}\n`;
          await sleep(20);
        }
      })(),
    }),
    'GET /slow-start': () => ({ hang: true }),
  });
  try {
    const client = new Client({ server: fake.url, timeoutMs: 400 });
    const quiet = await client.stream('/quiet');
    quiet.resume();
    const [err] = (await once(quiet, 'error')) as [Error];
    assert.equal(err.message, 'no data for 0.4s');

    const steady = await client.stream('/steady');
    let text = '';
    steady.on('data', (chunk: Buffer) => {
      text += String(chunk);
      if (text === 'chunk 0\n') {
        steady.pause();
        setTimeout(() => steady.resume(), 1200);
      }
    });
    await once(steady, 'end');
    assert.equal(text, 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n');

    await assert.rejects(client.stream('/slow-start'), {
      message: `cannot reach ${fake.url}: no answer within 0.4s`,
    });
  } finally {
    await fake.close();
  }
});
