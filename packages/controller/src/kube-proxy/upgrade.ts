// An upgrade (exec, attach, port-forward, cp over WebSocket or SPDY) relayed through its cluster's tunnel:
// the cluster's 101 or refusal is passed on, then raw bytes flow both ways until either side closes.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { UPGRADE_HEADER, UPGRADE_STATUS_HEADER, ZtkaError, forwardableHeaders, relay } from '@ztka/protocol';
import { refuseOnSocket } from '../http/limits.js';
import { apiRecord } from './audit.js';
import type { InFlight } from './proxy.js';
import { openUpstream, type ResolvedRequest } from './request.js';

export function relayUpgrade(
  request: ResolvedRequest,
  socket: Duplex,
  head: Buffer,
  { deps, observe, flights }: InFlight,
): void {
  const req = request.incoming;
  const refuse = (err: ZtkaError) => refuseOnSocket(socket, req.url, err);
  let status = 0;
  let bytesOut = 0;
  /** Set once the client's socket closed: what the cluster sends after that reaches nobody. */
  let cancelled = false;
  // After the switch the stream carries the upgraded protocol's bytes, not a body: a `Content-Length: 0`
  // from the client would make HTTP/2 reset the stream at the first byte.
  delete request.headers['content-length'];
  const stream = openUpstream(request, { [UPGRADE_HEADER]: String(req.headers.upgrade ?? '') });
  if (head.length > 0) stream.write(head);

  let reason: string | undefined;
  const end = (why: string) => {
    // No longer allowed, or the controller stops: the session ends now, whatever is typed into it.
    reason ??= why;
    socket.destroy();
  };
  const untrack = deps.track(request, end);
  const landed = flights.add({ longRunning: true, stop: end });
  socket.on('close', untrack);

  stream.on('response', (headers) => {
    status = Number(headers[UPGRADE_STATUS_HEADER] ?? headers[':status']);
    const lines = Object.entries(forwardableHeaders(headers)).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).map((v) => `${name}: ${String(v)}\r\n`),
    );
    if (status === 101) {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${String(headers[UPGRADE_HEADER] ?? '')}\r\n${lines.join('')}\r\n`,
      );
      relay(socket, stream);
    } else {
      // The cluster refused the upgrade (an old apiserver, a forbidden exec): pass its answer on as a plain
      // response, which is how kubectl ≥ 1.30 learns to fall back from WebSocket to SPDY.
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}Connection: close\r\n\r\n`,
      );
    }
    stream.on('data', (chunk: Buffer) => {
      if (!cancelled) bytesOut += chunk.length;
    });
    relay(stream, socket);
  });
  stream.on('error', (err) => {
    const failure = request.route.failure(err, stream);
    reason ??= failure.message;
    if (status === 0) refuse(failure);
    else socket.destroy();
  });
  stream.on('close', () => {
    if (status === 0) refuse(new ZtkaError('bad_gateway', `the tunnel to cluster ${request.cluster} closed`));
    else socket.end();
    const endedAt = Date.now();
    observe(request, { status, bytesOut, durationMs: endedAt - request.at });
    // The session is over; its start was recorded before any byte flowed, its end is recorded now.
    void deps
      .audit(
        apiRecord(request, {
          stage: 'ResponseComplete',
          status,
          bytes: bytesOut,
          endedAt,
          ...(reason ? { reason } : {}),
        }),
      )
      .catch(() => undefined)
      .finally(landed);
  });
  socket.on('close', () => {
    cancelled = true;
    request.route.cancel(stream);
  });
}
