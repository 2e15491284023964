import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ApiError, api, listAll, onUnauthorized, withQuery } from './api.js';
import { setCsrfToken } from './session.js';

interface Call {
  url: string;
  init: RequestInit;
}
let calls: Call[] = [];
const realFetch = globalThis.fetch;

function answer(...responses: Response[]): void {
  calls = [];
  globalThis.fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const res = responses.shift();
    if (!res) throw new Error('no more responses');
    return res;
  }) as typeof fetch;
}
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const header = (c: Call | undefined, name: string) => (c?.init.headers as Record<string, string>)[name];

afterEach(() => {
  globalThis.fetch = realFetch;
  setCsrfToken(undefined);
  onUnauthorized(undefined);
});

test('withQuery leaves out empty values and encodes the rest', () => {
  assert.equal(withQuery('/v1/x', { a: 'b c', b: '', c: undefined, d: 5 }), '/v1/x?a=b+c&d=5');
  assert.equal(withQuery('/v1/x', {}), '/v1/x');
});

test('writes carry the CSRF token, reads do not; both send the cookie', async () => {
  setCsrfToken('tok');
  answer(json(200, { ok: 1 }), new Response(null, { status: 204 }));
  assert.deepEqual(await api.get('/v1/settings'), { ok: 1 });
  await api.del('/v1/clusters/c1');
  assert.equal(header(calls[0], 'x-csrf-token'), undefined);
  assert.equal(header(calls[1], 'x-csrf-token'), 'tok');
  assert.equal(calls[0]?.init.credentials, 'same-origin');
  assert.equal(calls[1]?.init.method, 'DELETE');
});

test('a write without a CSRF token fails before it is sent', async () => {
  answer();
  await assert.rejects(api.post('/v1/projects', { name: 'p' }), (e: unknown) => {
    return e instanceof ApiError && e.code === 'csrf_missing';
  });
  assert.equal(calls.length, 0);
});

test('errors carry the API code, message and field', async () => {
  setCsrfToken('tok');
  answer(json(409, { code: 'conflict', message: 'cluster "c1" exists', field: '/name' }));
  await assert.rejects(api.post('/v1/clusters', { name: 'c1', project: 'p' }), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 409);
    assert.equal(e.code, 'conflict');
    assert.equal(e.message, 'cluster "c1" exists');
    assert.equal(e.field, '/name');
    return true;
  });
});

test('a 401 clears the token and signs the console out', async () => {
  setCsrfToken('tok');
  let signedOut = 0;
  onUnauthorized(() => signedOut++);
  answer(
    json(401, { code: 'unauthorized', message: 'session expired' }),
    json(403, { code: 'forbidden', message: 'no' }),
  );
  await assert.rejects(api.get('/v1/clusters'));
  assert.equal(signedOut, 1);
  await assert.rejects(
    api.post('/v1/projects', {}),
    (e: unknown) => e instanceof ApiError && e.code === 'csrf_missing',
  );
});

test('listAll follows nextCursor', async () => {
  answer(json(200, { items: [1, 2], nextCursor: 'n1' }), json(200, { items: [3] }));
  assert.deepEqual(await listAll<number>('/v1/users'), [1, 2, 3]);
  assert.equal(calls[1]?.url, '/v1/users?limit=500&cursor=n1');
});
