import type { ServerResponse } from 'node:http';
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
