import http2 from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import {
  UPGRADE_HEADER,
  UPGRADE_STATUS_HEADER,
  WHOLE_ANSWER_LIMIT,
  ZtkaError,
  forwardableHeaders,
  relay,
} from '@ztka/protocol';
import { apiRecord, isLongRunning, mayChangeCluster, newContext, type RequestContext } from './audit.js';
import { addressKey } from '../auth/login-throttle.js';
import { Flights } from './flights.js';
import { RefusalTally } from './refusals.js';
import { sendStatus, sendStatusOnSocket } from './respond.js';
import { resolveTarget, type KubeProxyDeps, type ProxyTarget } from './target.js';

export type { KubeProxyDeps } from './target.js';

export interface KubeProxy {
  /** A plain request (get, list, watch, apply, logs -f …): streamed both ways; only an answer of up to
   * WHOLE_ANSWER_LIMIT bytes is held, until its audit record commits. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  /** An upgrade (exec, attach, port-forward, cp over WebSocket or SPDY): relayed as raw bytes after the 101. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Stops taking requests (503 with Retry-After, on a connection that closes), ends long-running ones so
   * their clients reconnect and waits up to `graceMs` for the rest; for shutdown.
   */
  drain(graceMs: number): Promise<void>;
  /** Records what is still only counted (refusals of anonymous and throttled requests); for shutdown. */
  close(): Promise<void>;
}

/** The answer to a request that arrives while the controller drains: retry, elsewhere or soon. */
const shuttingDown = () =>
  new ZtkaError('cluster_unavailable', 'the controller is shutting down; retry', { retryAfterSeconds: 1 });

/** Observes each proxied request once it ends; metrics hang here. */
export type ProxyObserver = (
  target: ProxyTarget,
  outcome: { status: number; bytesOut: number; durationMs: number },
) => void;

function asZtkaError(err: unknown): ZtkaError {
  if (err instanceof ZtkaError) return err;
  return new ZtkaError('bad_gateway', 'the cluster connection failed while handling this request', {
    cause: err,
  });
}

/** Nothing is served that the trail does not hold: when the audit store fails, the request fails. */
const auditUnavailable = (cause: unknown) =>
  new ZtkaError('internal', 'the audit trail is unavailable, so the request was not served', { cause });

function openStream(target: ProxyTarget, extra: Record<string, string> = {}): http2.ClientHttp2Stream {
  return target.route.open({
    ...target.headers,
    ...extra,
    [http2.constants.HTTP2_HEADER_METHOD]: target.method,
    [http2.constants.HTTP2_HEADER_PATH]: target.upstreamPath,
  });
}

export function createKubeProxy(deps: KubeProxyDeps, observe: ProxyObserver = () => {}): KubeProxy {
  const flights = new Flights();
  const refusals = new RefusalTally((summary) => deps.audit(summary));
  /** Records a request refused before it travelled, then answers it. */
  const refuse = async (req: IncomingMessage, ctx: RequestContext, err: ZtkaError, answer: () => void) => {
    // Anyone can send requests without a credential, and a person over their rate limit is sending faster
    // than anyone reads: beyond the first per sender and interval they are counted, not copied.
    // Counted per address as the rate limit counts them: an IPv6 /64 is one sender, not 2^64.
    const address = addressKey(req.socket.remoteAddress ?? '');
    const throttled = ctx.principal !== undefined && err.code === 'too_many_requests';
    if (
      (!ctx.principal || throttled) &&
      // Per status too: refusals past the address's own limit (429) are told apart from the rest (401).
      !refusals.admit(ctx.principal ? `user:${ctx.principal.userId}` : `${address} ${err.status}`, {
        address,
        user: ctx.principal?.username ?? null,
        status: err.status,
      })
    ) {
      answer();
      return;
    }
    // A refusal is given even if it cannot be recorded: it serves nothing.
    await failBeforeForward(req, ctx, deps, err, answer);
  };

  return {
    drain: (graceMs) => flights.drain(graceMs),
    close: () => refusals.close(),

    handleRequest(req, res) {
      if (flights.draining) {
        req.resume();
        // The client's next try takes a new connection, which a load balancer sends to a live replica.
        res.shouldKeepAlive = false;
        sendStatus(res, shuttingDown());
        return;
      }
      const ctx = newContext(req);
      // Counted from arrival, so a drain waits for a request still being checked, not only forwarded ones.
      const arrived = flights.add({ longRunning: false, stop: () => undefined });
      resolveTarget(req, deps, ctx)
        .then(
          async (target) => {
            const longRunning = isLongRunning(target.kube, ctx.url.searchParams, false);
            // A read keeps its one record, committed before its answer completes (docs/performance.md); a
            // request that may change the cluster is on record before it travels, so no crash between
            // forwarding and the response's record can leave a change the trail does not know of.
            const first = longRunning
              ? ('ResponseStarted' as const)
              : mayChangeCluster(target.kube)
                ? ('RequestReceived' as const)
                : undefined;
            if (first) {
              try {
                await deps.audit(apiRecord(req, ctx, { stage: first, status: 0 }));
              } catch (err) {
                req.resume();
                sendStatus(res, auditUnavailable(err));
                return;
              }
            }
            // The tunnel may have closed while the record was written (an agent restarting).
            const gone = tunnelGone(target);
            if (gone) {
              req.resume();
              return failBeforeForward(req, ctx, deps, gone, () => sendStatus(res, gone));
            }
            forwardRequest(req, res, target, ctx, deps, observe, longRunning, flights);
          },
          (err: unknown) => {
            req.resume();
            const error = asZtkaError(err);
            return refuse(req, ctx, error, () => sendStatus(res, error));
          },
        )
        .catch((err: unknown) => {
          // A fault of the proxy itself: the request fails, the controller carries on.
          if (!res.headersSent) sendStatus(res, asZtkaError(err));
          else res.destroy();
        })
        .finally(arrived);
    },

    handleUpgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      if (flights.draining) {
        sendStatusOnSocket(socket, shuttingDown());
        return;
      }
      const ctx = newContext(req);
      const arrived = flights.add({ longRunning: false, stop: () => undefined });
      resolveTarget(req, deps, ctx)
        .then(
          async (target) => {
            try {
              await deps.audit(apiRecord(req, ctx, { stage: 'ResponseStarted', status: 0 }));
            } catch (err) {
              sendStatusOnSocket(socket, auditUnavailable(err));
              return;
            }
            const gone = tunnelGone(target);
            if (gone) return failBeforeForward(req, ctx, deps, gone, () => sendStatusOnSocket(socket, gone));
            relayUpgrade(req, socket, head, target, ctx, deps, observe, flights);
          },
          (err: unknown) => {
            const error = asZtkaError(err);
            return refuse(req, ctx, error, () => sendStatusOnSocket(socket, error));
          },
        )
        .catch((err: unknown) => sendStatusOnSocket(socket, asZtkaError(err)))
        .finally(arrived);
    },
  };
}

/** Why a request cannot travel its tunnel any more, if it cannot: the tunnel closed after it was resolved. */
function tunnelGone(target: ProxyTarget): ZtkaError | undefined {
  return target.route.gone();
}

/** Completes the record of a request that was on record but never forwarded, then answers it. */
async function failBeforeForward(
  req: IncomingMessage,
  ctx: RequestContext,
  deps: KubeProxyDeps,
  err: ZtkaError,
  answer: () => void,
): Promise<void> {
  await deps
    .audit(
      apiRecord(req, ctx, {
        stage: 'ResponseComplete',
        status: err.status,
        reason: err.message,
        endedAt: Date.now(),
      }),
    )
    .catch(() => undefined);
  answer();
}

function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  target: ProxyTarget,
  ctx: RequestContext,
  deps: KubeProxyDeps,
  observe: ProxyObserver,
  longRunning: boolean,
  flights: Flights,
): void {
  let bytesOut = 0;
  let status = 0;
  let reason: string | undefined;
  /** Ended because the controller drains: a watch then ends cleanly, so its client simply watches again. */
  let drained = false;
  const stream = openStream(target);
  // What the cluster sends after the cancel is read and dropped on the way (route.cancel), not counted.
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
    target.route.cancel(stream);
  };
  const landed = flights.add({
    longRunning,
    stop: (why) => {
      reason ??= why;
      drained = true;
      cancel();
    },
  });
  const untrack = deps.track(target, (why) => {
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
    failure ??= target.route.failure(err, stream);
    reason ??= failure.message;
  });
  let ended = false;
  stream.on('end', () => (ended = true));
  stream.on('close', () => {
    untrack();
    const endedAt = Date.now();
    observe(target, { status, bytesOut, durationMs: endedAt - ctx.at });
    // A held answer is whole or not sent: one that ended short of its length is a failure like a cut one.
    if (held && ended && bytesOut !== held.length) {
      ended = false;
      reason ??= 'the answer ended short of its announced length';
    }
    if (!ended && !reason) reason = `the tunnel to cluster ${target.cluster} closed`;
    const failed =
      !ended && !res.headersSent
        ? failure?.code === 'cluster_unavailable'
          ? failure
          : new ZtkaError('bad_gateway', reason ?? 'the tunnel closed')
        : undefined;
    const record = apiRecord(req, ctx, {
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

function relayUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: ProxyTarget,
  ctx: RequestContext,
  deps: KubeProxyDeps,
  observe: ProxyObserver,
  flights: Flights,
) {
  let status = 0;
  let bytesOut = 0;
  /** Set once the client's socket closed: what the cluster sends after that reaches nobody. */
  let cancelled = false;
  // After the switch the stream carries the upgraded protocol's bytes, not a body: a `Content-Length: 0`
  // from the client would make HTTP/2 reset the stream at the first byte.
  delete target.headers['content-length'];
  const stream = openStream(target, { [UPGRADE_HEADER]: String(req.headers.upgrade ?? '') });
  if (head.length > 0) stream.write(head);

  let reason: string | undefined;
  const end = (why: string) => {
    // No longer allowed, or the controller stops: the session ends now, whatever is typed into it.
    reason ??= why;
    socket.destroy();
  };
  const untrack = deps.track(target, end);
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
    const failure = target.route.failure(err, stream);
    reason ??= failure.message;
    if (status === 0) sendStatusOnSocket(socket, failure);
    else socket.destroy();
  });
  stream.on('close', () => {
    if (status === 0)
      sendStatusOnSocket(
        socket,
        new ZtkaError('bad_gateway', `the tunnel to cluster ${target.cluster} closed`),
      );
    else socket.end();
    const endedAt = Date.now();
    observe(target, { status, bytesOut, durationMs: endedAt - ctx.at });
    // The session is over; its start was recorded before any byte flowed, its end is recorded now.
    void deps
      .audit(
        apiRecord(req, ctx, {
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
    target.route.cancel(stream);
  });
}
