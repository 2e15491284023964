// The kube proxy's entry: each request is resolved (request.ts), put on record as its kind requires, then
// forwarded as a plain request (forward.ts) or relayed as an upgrade (upgrade.ts). Refusals are answered
// here, and recorded, or counted when they cost the sender nothing (refusals.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ZtkaError } from '@ztka/protocol';
import type { ApiRecord } from '../audit/record.js';
import { addressKey } from '../auth/login-throttle.js';
import { refuseOnSocket } from '../http/limits.js';
import { badGateway } from '../tunnel/route.js';
import { apiRecord, auditUnavailable, isLongRunning, mayChangeCluster } from './audit.js';
import { Flights } from './flights.js';
import { forwardRequest } from './forward.js';
import { RefusalTally } from './refusals.js';
import {
  newRequest,
  resolveRequest,
  type ProxyRequest,
  type RequestResolvers,
  type ResolvedRequest,
} from './request.js';
import { sendStatus } from './respond.js';
import { relayUpgrade } from './upgrade.js';

export interface KubeProxyDeps extends RequestResolvers {
  /**
   * Watches a request in flight: `end` is called, with the reason to record, if after a change (a
   * revocation, a lost role) the request would no longer be allowed as it was, or when the credential that
   * opened it expires. Returns the function to call when the request is over.
   */
  track(request: ResolvedRequest, end: (reason: string) => void): () => void;
  /** Commits an audit record; the proxy awaits it before the response completes. */
  audit(record: ApiRecord): Promise<void>;
}

/** Observes each proxied request once it ends; metrics hang here. */
export type ProxyObserver = (
  request: ResolvedRequest,
  outcome: { status: number; bytesOut: number; durationMs: number },
) => void;

/** What a request in flight answers to: its watchers, its record, and the controller's drain. */
export interface InFlight {
  deps: Pick<KubeProxyDeps, 'track' | 'audit'>;
  observe: ProxyObserver;
  flights: Flights;
}

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

export function createKubeProxy(deps: KubeProxyDeps, observe: ProxyObserver = () => {}): KubeProxy {
  const flights = new Flights();
  const inFlight: InFlight = { deps, observe, flights };
  const refusals = new RefusalTally((summary) => deps.audit(summary));
  /** Records a request refused before it travelled, then answers it. */
  const refuse = async (request: ProxyRequest, err: ZtkaError, answer: () => void) => {
    // Anyone can send requests without a credential, and a person over their rate limit is sending faster
    // than anyone reads: beyond the first per sender and interval they are counted, not copied.
    // Counted per address as the rate limit counts them: an IPv6 /64 is one sender, not 2^64.
    const { principal } = request;
    const address = addressKey(request.incoming.socket.remoteAddress ?? '');
    const throttled = principal !== undefined && err.code === 'too_many_requests';
    if (
      (!principal || throttled) &&
      // Per status too: refusals past the address's own limit (429) are told apart from the rest (401).
      !refusals.admit(principal ? `user:${principal.userId}` : `${address} ${err.status}`, {
        address,
        user: principal?.username ?? null,
        status: err.status,
      })
    ) {
      answer();
      return;
    }
    // A refusal is given even if it cannot be recorded: it serves nothing.
    await failBeforeForward(request, deps, err, answer);
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
      const request = newRequest(req);
      // Counted from arrival, so a drain waits for a request still being checked, not only forwarded ones.
      const arrived = flights.add({ longRunning: false, stop: () => undefined });
      resolveRequest(request, deps)
        .then(
          async (resolved) => {
            const longRunning = isLongRunning(resolved.kube, resolved.url.searchParams);
            // A read keeps its one record, committed before its answer completes (docs/performance.md); a
            // request that may change the cluster is on record before it travels, so no crash between
            // forwarding and the response's record can leave a change the trail does not know of.
            const first = longRunning
              ? ('ResponseStarted' as const)
              : mayChangeCluster(resolved.kube)
                ? ('RequestReceived' as const)
                : undefined;
            if (first) {
              try {
                await deps.audit(apiRecord(resolved, { stage: first, status: 0 }));
              } catch (err) {
                req.resume();
                sendStatus(res, auditUnavailable(err));
                return;
              }
            }
            // The tunnel may have closed while the record was written (an agent restarting).
            const gone = resolved.route.gone();
            if (gone) {
              req.resume();
              return failBeforeForward(resolved, deps, gone, () => sendStatus(res, gone));
            }
            forwardRequest(resolved, res, longRunning, inFlight);
          },
          (err: unknown) => {
            req.resume();
            const error = badGateway(err);
            return refuse(request, error, () => sendStatus(res, error));
          },
        )
        .catch((err: unknown) => {
          // A fault of the proxy itself: the request fails, the controller carries on.
          if (!res.headersSent) sendStatus(res, badGateway(err));
          else res.destroy();
        })
        .finally(arrived);
    },

    handleUpgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      const answer = (err: ZtkaError) => refuseOnSocket(socket, req.url, err);
      if (flights.draining) return answer(shuttingDown());
      const request = newRequest(req);
      const arrived = flights.add({ longRunning: false, stop: () => undefined });
      resolveRequest(request, deps)
        .then(
          async (resolved) => {
            try {
              await deps.audit(apiRecord(resolved, { stage: 'ResponseStarted', status: 0 }));
            } catch (err) {
              return answer(auditUnavailable(err));
            }
            const gone = resolved.route.gone();
            if (gone) return failBeforeForward(resolved, deps, gone, () => answer(gone));
            relayUpgrade(resolved, socket, head, inFlight);
          },
          (err: unknown) => {
            const error = badGateway(err);
            return refuse(request, error, () => answer(error));
          },
        )
        .catch((err: unknown) => answer(badGateway(err)))
        .finally(arrived);
    },
  };
}

/** Completes the record of a request that was on record but never forwarded, then answers it. */
async function failBeforeForward(
  request: ProxyRequest,
  deps: Pick<KubeProxyDeps, 'audit'>,
  err: ZtkaError,
  answer: () => void,
): Promise<void> {
  await deps
    .audit(
      apiRecord(request, {
        stage: 'ResponseComplete',
        status: err.status,
        reason: err.message,
        endedAt: Date.now(),
      }),
    )
    .catch(() => undefined);
  answer();
}
