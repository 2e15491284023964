// A plain request (get, list, watch, apply, logs -f …) forwarded through its cluster's tunnel: streamed both
// ways, and completed only once its record is committed.
import http2 from 'node:http2';
import type { ServerResponse } from 'node:http';
import { WHOLE_ANSWER_LIMIT, ZtkaError, forwardableHeaders, relay } from '@ztka/protocol';
import { apiRecord, auditUnavailable } from './audit.js';
import type { InFlight } from './proxy.js';
import { openUpstream, type ResolvedRequest } from './request.js';
import { sendStatus } from './respond.js';

export function forwardRequest(
  request: ResolvedRequest,
  res: ServerResponse,
  longRunning: boolean,
  { deps, observe, flights }: InFlight,
): void {
  const req = request.incoming;
  let bytesOut = 0;
  let status = 0;
  let reason: string | undefined;
  /** Ended because the controller drains: a watch then ends cleanly, so its client simply watches again. */
  let drained = false;
  const stream = openUpstream(request);
  // What the cluster sends after the cancel is read and dropped on the way (route.cancel), not counted.
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
    request.route.cancel(stream);
  };
  const landed = flights.add({
    longRunning,
    stop: (why) => {
      reason ??= why;
      drained = true;
      cancel();
    },
  });
  const untrack = deps.track(request, (why) => {
    // No longer allowed: a watch or log stream ends now, not when the client hangs up.
    reason = why;
    cancel();
    res.destroy();
  });
  relay(req, stream);
  // A small answer of known length is held whole and sent in one write once its record commits. Any other
  // answer streams as it comes, chunked: with its Content-Length a client would hold a complete response
  // before the record is committed, and the end is what the record must come before.
  let held:
    { headers: Record<string, string | string[] | number>; length: number; chunks: Buffer[] } | undefined;
  stream.on('response', (headers) => {
    status = Number(headers[':status']);
    const forwarded = forwardableHeaders(headers);
    const length = Number(headers['content-length']);
    if (!longRunning && Number.isSafeInteger(length) && length >= 0 && length <= WHOLE_ANSWER_LIMIT) {
      // A HEAD, 204 or 304 answer announces a length it never sends.
      const bodyless = req.method === 'HEAD' || status === 204 || status === 304;
      const whole = { headers: forwarded, length: bodyless ? 0 : length, chunks: [] as Buffer[] };
      held = whole;
      stream.on('data', (chunk: Buffer) => {
        bytesOut += chunk.length;
        // More than announced: the stream is broken, not the limit raised.
        if (bytesOut > whole.length) stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
        else whole.chunks.push(chunk);
      });
      return;
    }
    delete forwarded['content-length'];
    res.writeHead(status, forwarded);
    // A watch or logs -f may say nothing for minutes: its client must see the headers now. Any other
    // answer is on its way, and its headers leave with its first bytes in one write.
    if (longRunning) res.flushHeaders();
    // Counted only from here: a 'data' listener attached earlier would start the flow before the
    // pipe exists and lose the first bytes of a small response.
    stream.on('data', (chunk: Buffer) => {
      if (!cancelled) bytesOut += chunk.length;
    });
    // The response is ended below, once its record is committed.
    relay(stream, res, { end: false });
  });
  /** Set when the stream failed before the cluster answered: what its client is told. */
  let failure: ZtkaError | undefined;
  stream.on('error', (err) => {
    failure ??= request.route.failure(err, stream);
    reason ??= failure.message;
  });
  let ended = false;
  stream.on('end', () => (ended = true));
  stream.on('close', () => {
    untrack();
    const endedAt = Date.now();
    observe(request, { status, bytesOut, durationMs: endedAt - request.at });
    // A held answer is whole or not sent: one that ended short of its length is a failure like a cut one.
    if (held && ended && bytesOut !== held.length) {
      ended = false;
      reason ??= 'the answer ended short of its announced length';
    }
    if (!ended && !reason) reason = `the tunnel to cluster ${request.cluster} closed`;
    const failed =
      !ended && !res.headersSent
        ? failure?.code === 'cluster_unavailable'
          ? failure
          : new ZtkaError('bad_gateway', reason ?? 'the tunnel closed')
        : undefined;
    const record = apiRecord(request, {
      stage: 'ResponseComplete',
      status: failed ? failed.status : status,
      bytes: bytesOut,
      endedAt,
      ...(reason ? { reason } : {}),
    });
    deps
      .audit(record)
      .then(
        () => {
          if (failed) sendStatus(res, failed);
          else if (held && ended) {
            res.writeHead(status, held.headers);
            res.end(Buffer.concat(held.chunks));
          }
          // A stream that closed without its end (the tunnel died, the agent reset it): end the client's
          // response too, so a watch or a log stream does not wait forever on a tunnel that is gone. A
          // long-running one ended by a drain ends cleanly instead, as a server's watch timeout does.
          else if (!ended && !(drained && longRunning)) res.destroy();
          else res.end();
        },
        (err: unknown) => {
          // Unrecorded means unserved: the client sees a broken response, never a complete one.
          if (!res.headersSent) sendStatus(res, auditUnavailable(err));
          else res.destroy();
        },
      )
      .finally(landed);
  });
  // The client went away: stop the work in the cluster too (a watch, a log stream).
  res.on('close', () => {
    if (!res.writableFinished) cancel();
  });
}
