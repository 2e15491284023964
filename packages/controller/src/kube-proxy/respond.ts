import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { kubeStatus, type ZtkaError } from '@ztka/protocol';

/** Answers a kube API request with a metav1.Status, which kubectl prints as a readable error. */
export function sendStatus(res: ServerResponse, err: ZtkaError): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const body = JSON.stringify(kubeStatus(err));
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    // kubectl keeps an HTTP cache of discovery answers: a refusal stored there (a 503 while a tunnel moves
    // between replicas) would be replayed to every later kubectl, Retry-After and all.
    'cache-control': 'no-store',
    // client-go waits this long and retries a 429 by itself.
    ...(err.retryAfterSeconds === undefined ? {} : { 'retry-after': String(err.retryAfterSeconds) }),
  });
  res.end(body);
}

/** The same answer written on a raw socket, for an upgrade request refused before any protocol switch. */
export function sendStatusOnSocket(socket: Duplex, err: ZtkaError): void {
  const body = JSON.stringify(kubeStatus(err));
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\n' +
      (err.retryAfterSeconds === undefined ? '' : `Retry-After: ${err.retryAfterSeconds}\r\n`) +
      'Connection: close\r\n\r\n' +
      body,
  );
}
