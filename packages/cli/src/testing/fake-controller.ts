// A stand-in for the controller in tests: a loopback HTTP or HTTPS server that answers from a route table
// and records every request, so tests can check what the CLI sent as well as what it printed. After the last
// test of a file, the API requests the fakes took are checked against the real server's routes and schemas
// (server-contract.ts).
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after } from 'node:test';
import { selfSignedCert } from '@ztka/testenv';
import { assertServerTakes, type SentRequest } from './server-contract.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
}

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  /** A body sent chunk by chunk as it is produced; if it throws, the connection is cut mid-body. */
  stream?: AsyncIterable<string | Uint8Array>;
  /** Never answer: for timeouts. */
  hang?: boolean;
}

export type Handler = (req: RecordedRequest) => Reply | Promise<Reply>;

export interface FakeController {
  url: string;
  /** PEM of the self-signed certificate, for an HTTPS fake. */
  certPem?: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const sentToFakes: SentRequest[] = [];
after(() => assertServerTakes(sentToFakes));

/** Routes are keyed `METHOD /path`; anything else is a 404 in the API's error shape. */
export async function startFake(
  routes: Record<string, Handler>,
  options: { tls?: boolean } = {},
): Promise<FakeController> {
  const requests: RecordedRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = body === '' ? undefined : JSON.parse(body);
      } catch {
        json = undefined;
      }
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        json,
      };
      requests.push(recorded);
      const handler = routes[`${recorded.method} ${recorded.path}`];
      const reply: Promise<Reply> = handler
        ? Promise.resolve(handler(recorded))
        : Promise.resolve({ status: 404, json: { code: 'not_found', message: `no route ${url.pathname}` } });
      void reply.then((r) => {
        // A 400 the test answered on purpose stands for a refusal, which the server need not agree with.
        if (recorded.path.startsWith('/v1/') && r.status !== 400)
          sentToFakes.push({
            method: recorded.method,
            url: req.url ?? '/',
            contentType: req.headers['content-type'],
            body,
          });
        if (r.hang === true) {
          hanging.add(res);
          return;
        }
        const status = r.status ?? 200;
        if (r.stream !== undefined) {
          res.writeHead(status, { 'content-type': r.contentType ?? 'application/octet-stream' });
          // A failed body destroys the response: the client sees the connection cut.
          pipeline(Readable.from(r.stream), res).catch(() => undefined);
        } else if (r.json !== undefined) {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(r.json));
        } else if (r.text !== undefined) {
          res.writeHead(status, { 'content-type': r.contentType ?? 'text/plain' }).end(r.text);
        } else {
          res.writeHead(status === 200 ? 204 : status).end();
        }
      });
    });
  };
  let certPem: string | undefined;
  let server: http.Server;
  if (options.tls === true) {
    const { key, cert } = selfSignedCert();
    certPem = cert;
    server = https.createServer({ key, cert }, listener);
  } else {
    server = http.createServer(listener);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeController = {
    url: `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  if (certPem !== undefined) fake.certPem = certPem;
  return fake;
}
