import assert from 'node:assert/strict';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { pino } from 'pino';
import {
  IDENTITY_HEADER,
  KUBE_REQUEST_HEADER,
  encodeIdentity,
  encodeKubeRequestHeader,
  parseKubeRequest,
  protectedNamespaces,
} from '@ztka/protocol';
import { selfSignedCert } from '@ztka/testenv';
import { createForwarder, isList } from './forward.js';
import { H2Pool } from './h2-pool.js';
import type { CredentialProvider } from './upstream.js';

test('LISTs are told apart from gets, watches and discovery, to travel over HTTP/1.1', () => {
  assert.equal(isList('GET', '/api/v1/namespaces/team-a/configmaps?limit=500'), true);
  assert.equal(isList('GET', '/apis/apps/v1/deployments'), true);
  assert.equal(isList('GET', '/api/v1/namespaces/team-a/configmaps/one'), false);
  assert.equal(isList('GET', '/api/v1/configmaps?watch=true'), false);
  assert.equal(isList('POST', '/api/v1/namespaces/team-a/configmaps'), false);
  assert.equal(isList('GET', '/apis'), false);
  assert.equal(isList('GET', '/%%%/not a path'), false);
});

/** A stand-in apiserver (HTTP/2 over TLS), the agent's forwarder in front of it, and a tunnel to reach it. */
async function rig(
  apiserver: (stream: http2.ServerHttp2Stream) => void,
  opts: { gate?: Promise<void>; apiserverDown?: boolean } = {},
) {
  const pem = selfSignedCert();
  const api = http2.createSecureServer(pem);
  let apiStreams = 0;
  api.on('stream', (stream) => {
    apiStreams++;
    stream.on('error', () => {});
    apiserver(stream);
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const apiPort = (api.address() as AddressInfo).port;
  if (opts.apiserverDown) await new Promise((r) => api.close(r));
  const pool = new H2Pool(`https://127.0.0.1:${apiPort}`, tls.createSecureContext({ ca: pem.cert }), {
    rejectUnauthorized: true,
  });
  let credentialsMade = 0;
  const credentials: CredentialProvider = {
    own: () => Promise.reject(new Error('not in this test')),
    forRequest: async () => {
      credentialsMade++;
      await opts.gate;
      return { server: '', agent: new https.Agent(), headers: { authorization: 'Bearer t' }, h2: pool };
    },
  };
  const forward = createForwarder(credentials, pino({ level: 'silent' }), protectedNamespaces('ztka-jit-1'));
  const tunnel = http2.createServer();
  const agentSide: http2.ServerHttp2Stream[] = [];
  tunnel.on('stream', (stream, headers) => {
    agentSide.push(stream);
    void forward(stream, headers);
  });
  await new Promise<void>((r) => tunnel.listen(0, '127.0.0.1', r));
  const controller = http2.connect(`http://127.0.0.1:${(tunnel.address() as AddressInfo).port}`);
  const request = (method: string, path: string, extra: Record<string, string> = {}) =>
    controller.request(
      {
        ':method': method,
        ':path': path,
        [IDENTITY_HEADER]: encodeIdentity({ user: 'demos@rafay.co', userId: 'u-1', role: 'ADMIN' }),
        ...extra,
      },
      { endStream: true },
    );
  return {
    apiStreams: () => apiStreams,
    credentialsMade: () => credentialsMade,
    /** The agent's side of the tunnel streams so far. */
    agentSide,
    /** A GET through the tunnel, as the controller would send it. */
    get: (path: string) => request('GET', path),
    request,
    close: async () => {
      controller.destroy();
      pool.close();
      tunnel.close();
      if (!opts.apiserverDown) api.close();
    },
  };
}

/** Status and body of a tunnel stream's answer, or the reset that ended it. */
function answer(stream: http2.ClientHttp2Stream): Promise<{ status?: number; body: string; reset?: number }> {
  return new Promise((resolve) => {
    let status: number | undefined;
    let body = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: Buffer) => (body += c.toString()));
    stream.on('error', () => {});
    stream.on('close', () =>
      resolve({
        ...(status === undefined ? {} : { status }),
        body,
        ...(stream.rstCode ? { reset: stream.rstCode } : {}),
      }),
    );
  });
}

test(
  'a request cancelled while its credential is made never reaches the apiserver',
  { timeout: 10_000 },
  async (t) => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const r = await rig((stream) => stream.respond({ ':status': 200 }), { gate });
    t.after(() => r.close());
    const stream = r.get('/api/v1/namespaces/default/pods?watch=true');
    await new Promise((res) => setTimeout(res, 50));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    // The reset reaches the agent while it still waits for the credential.
    for (let i = 0; i < 500 && !r.agentSide[0]; i++) await new Promise((res) => setTimeout(res, 10));
    const agentStream = r.agentSide[0];
    assert.ok(agentStream, 'the request never reached the agent');
    if (!agentStream.closed) await new Promise((res) => agentStream.once('close', res));
    open();
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(r.apiStreams(), 0);
  },
);

test(
  'an apiserver that resets the request before answering is a 502 Status, not a hang',
  { timeout: 10_000 },
  async (t) => {
    const r = await rig((stream) => stream.close(http2.constants.NGHTTP2_CANCEL));
    t.after(() => r.close());
    const got = await answer(r.get('/api/v1/namespaces/default'));
    assert.equal(got.status, 502);
    assert.equal((JSON.parse(got.body) as { kind: string }).kind, 'Status');
  },
);

test(
  'a request the controller parsed as another is refused before any credential is made',
  { timeout: 10_000 },
  async (t) => {
    const r = await rig((stream) => {
      stream.respond({ ':status': 200 });
      stream.end();
    });
    t.after(() => r.close());
    const parse = (path: string) => parseKubeRequest('GET', path, new URLSearchParams());
    const elsewhere = encodeKubeRequestHeader(parse('/api/v1/namespaces/team-a/pods'));
    const got = await answer(
      r.request('GET', '/api/v1/namespaces/team-b/secrets', { [KUBE_REQUEST_HEADER]: elsewhere }),
    );
    assert.equal(got.status, 400);
    assert.equal(r.credentialsMade(), 0);
    // The same parse on both sides travels.
    const same = encodeKubeRequestHeader(parse('/api/v1/namespaces/team-a/pods/web'));
    const sent = await answer(
      r.request('GET', '/api/v1/namespaces/team-a/pods/web', { [KUBE_REQUEST_HEADER]: same }),
    );
    assert.equal(sent.status, 200);
  },
);

test('an apiserver that cannot be reached is a whole 502 Status', { timeout: 10_000 }, async (t) => {
  const r = await rig(() => {}, { apiserverDown: true });
  t.after(() => r.close());
  const got = await answer(r.get('/api/v1/namespaces/default'));
  assert.equal(got.status, 502);
  assert.equal(got.reset, undefined);
  assert.match((JSON.parse(got.body) as { message: string }).message, /could not reach the kube-apiserver/);
});

test('a small answer of known length comes back whole', { timeout: 10_000 }, async (t) => {
  const r = await rig((stream) => {
    stream.respond({ ':status': 200, 'content-length': 5 });
    stream.end('hello');
  });
  t.after(() => r.close());
  const got = await answer(r.get('/api/v1/namespaces/default'));
  assert.deepEqual(got, { status: 200, body: 'hello' });
});

test(
  'the agent refuses every request into its JIT namespace and ztka-system, before any credential is made',
  { timeout: 10_000 },
  async (t) => {
    const r = await rig((stream) => {
      stream.respond({ ':status': 200, 'content-length': 2 });
      stream.end('{}');
    });
    t.after(() => r.close());
    for (const ns of ['ztka-jit-1', 'ztka-system'])
      for (const [method, path] of [
        ['POST', `/api/v1/namespaces/${ns}/serviceaccounts/admin/token`],
        ['GET', `/api/v1/namespaces/${ns}/serviceaccounts`],
        ['GET', `/api/v1/namespaces/${ns}`],
        ['DELETE', `/api/v1/namespaces/${ns}`],
        ['GET', `/api/v1/watch/namespaces/${ns}/secrets`],
        ['GET', `/api/v1/serviceaccounts?fieldSelector=metadata.namespace%3D${ns}`],
        ['POST', `/api/v1/nodes/node-1/proxy/exec/${ns}/agent/agent?command=sh`],
      ] as const) {
        const got = await answer(r.request(method, path));
        assert.equal(got.status, 403, `${method} ${path}`);
        const status = JSON.parse(got.body) as { kind: string; reason: string; message: string };
        assert.equal(status.kind, 'Status');
        assert.equal(status.reason, 'Forbidden');
        assert.match(status.message, new RegExp(`namespace "${ns}": it holds ztka's just-in-time`));
      }
    const unreadable = await answer(r.get('/api/v1/namespaces/%2e%2e/serviceaccounts'));
    assert.equal(unreadable.status, 400);
    assert.equal(r.credentialsMade(), 0);
    assert.equal(r.apiStreams(), 0);

    // Everything else is forwarded: watching across namespaces is the cluster's RBAC to decide. (LISTs
    // take HTTP/1.1, which this rig's apiserver does not serve.)
    assert.equal((await answer(r.get('/api/v1/serviceaccounts?watch=true'))).status, 200);
    assert.equal((await answer(r.get('/api/v1/namespaces/team-a/serviceaccounts/x'))).status, 200);
    assert.equal(r.credentialsMade(), 2);
    assert.equal(r.apiStreams(), 2);
  },
);

test(
  "an answer with more header fields than the controller's session takes is a 502 from the agent, never a reset",
  { timeout: 10_000 },
  async (t) => {
    const r = await rig((stream) => {
      const headers: http2.OutgoingHttpHeaders = { ':status': 200 };
      for (let i = 0; i < 120; i++) headers[`x-pod-${i}`] = 'v';
      stream.respond(headers);
      stream.end('{}');
    });
    t.after(() => r.close());
    const got = await answer(r.get('/api/v1/namespaces/default/pods/web:8080/proxy/'));
    assert.equal(got.status, 502);
    assert.equal(got.reset, undefined);
    assert.match(got.body, /1[23]\d header fields/);
  },
);
