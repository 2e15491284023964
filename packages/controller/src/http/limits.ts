// The main listener's limits, enforced before any route runs: how long a client may take to send its
// request, how large its headers and credentials may be, and what a CONNECT gets. Every refusal is an
// answer in ztka's error shape (a kube Status on /k8s/…), never a connection closed without a word.
import { STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { CLUSTER_PROXY_PREFIX, ZtkaError, apiErrorBody, kubeStatus } from '@ztka/protocol';
import { MAX_AUTHORIZATION_BYTES, MAX_COOKIE_BYTES } from '../auth/authenticate.js';

/**
 * Options of the main HTTPS server. The timeouts bound only what the client sends: once a request is whole
 * (a GET at once), its answer may stream for as long as it likes, so watches and `logs -f` are untouched,
 * and an upgraded connection (exec, attach, port-forward, the agents' tunnels) leaves the HTTP parser and
 * these limits behind.
 */
export const LISTENER_OPTIONS = {
  /** Longest request head read; longer ones get 431 before any work is done. */
  maxHeaderSize: 64 * 1024,
  /** A TLS handshake that has not finished by then is dropped: no connection is held for free. */
  handshakeTimeout: 10_000,
  /** The whole request head, however slowly it drips (slowloris): 408 after this. */
  headersTimeout: 10_000,
  /** The whole request, body included: the kube-apiserver gives a request 60 s, so no kube call needs more. */
  requestTimeout: 60_000,
  /** How often Node looks for requests past those limits (its default, 30 s, would let them overstay). */
  connectionsCheckingInterval: 1_000,
} as const satisfies ServerOptions & TlsOptions;

/** The methods ztka serves, for the `Allow` header of a 405. */
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/** A Cookie or Authorization header too large to hold a ztka credential: refused rather than read. */
export function oversizedCredentialHeader(headers: IncomingHttpHeaders): ZtkaError | undefined {
  const limits: ReadonlyArray<[string, string | undefined, number]> = [
    ['Cookie', headers.cookie, MAX_COOKIE_BYTES],
    ['Authorization', headers.authorization, MAX_AUTHORIZATION_BYTES],
  ];
  for (const [name, value, limit] of limits)
    if (value !== undefined && Buffer.byteLength(value, 'latin1') > limit)
      return new ZtkaError('headers_too_large', `the ${name} header is over ${limit} bytes`);
  return undefined;
}

/** The error's body for its audience: kubectl reads a Status, everyone else ztka's API error. */
function errorBody(url: string | undefined, err: ZtkaError): string {
  return JSON.stringify(url?.startsWith(CLUSTER_PROXY_PREFIX) ? kubeStatus(err) : apiErrorBody(err));
}

/** Answers a request that is refused before any route sees it, and closes its connection. */
export function refuseRequest(req: IncomingMessage, res: ServerResponse, err: ZtkaError): void {
  const body = errorBody(req.url, err);
  req.resume();
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    connection: 'close',
  });
  res.end(body);
}

/**
 * The same on a socket no HTTP response owns: an upgrade (of the kube proxy, the agents' tunnel endpoint or
 * the browser shell), a CONNECT, a request the parser gave up on. The one raw-socket answer of the controller.
 */
export function refuseOnSocket(
  socket: Duplex,
  url: string | undefined,
  err: ZtkaError,
  headers: Record<string, string> = {},
): void {
  // The caller may hang up mid-answer; an unheard 'error' on a socket no server owns would end the process.
  socket.on('error', () => socket.destroy());
  const body = errorBody(url, err);
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      'Cache-Control: no-store\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      (err.retryAfterSeconds === undefined ? '' : `Retry-After: ${err.retryAfterSeconds}\r\n`) +
      extra.join('') +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** CONNECT asks the controller to be a forward proxy, which it never is. */
export function refuseConnect(req: IncomingMessage, socket: Duplex): void {
  refuseOnSocket(
    socket,
    req.url,
    new ZtkaError('method_not_allowed', 'CONNECT is not served: the controller is not a forward proxy'),
    { Allow: ALLOWED_METHODS },
  );
}

/**
 * What a client gets when Node's parser refuses its request (headers over the limit, too slow, malformed):
 * the same error shape as everything else, then the connection ends. Fastify's default says it in its own.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // A response already under way (a body too slow to arrive while the answer streams) cannot be replaced.
  const pending = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !pending?.headersSent) {
    const error =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? new ZtkaError(
            'headers_too_large',
            `request headers are over ${LISTENER_OPTIONS.maxHeaderSize} bytes`,
          )
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new ZtkaError('request_timeout', 'the request was not received in time')
          : new ZtkaError('bad_request', 'malformed HTTP request');
    refuseOnSocket(socket, undefined, error);
  }
  socket.destroy();
}
