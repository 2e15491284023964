import http2 from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';
import { ZtkaError } from '@ztka/protocol';
import type { AgentSession } from './session.js';

/**
 * The way to one cluster's apiserver for one request: the agent's tunnel held by this replica, or another
 * replica's (peers/route.ts). The kube proxy authenticates, authorizes and records a request once, on the
 * replica it reached, and then only opens a stream here: the route decides the rest.
 */
export interface TunnelRoute {
  readonly cluster: string;
  /** The agent's namespace for people's service accounts on this cluster: no request may reach it. */
  readonly jitNamespace: string;
  /** `local`, or the replica whose tunnel carries it; for logs. */
  readonly via: string;
  /** Opens one HTTP/2 stream to the apiserver, through the agent; `headers` include `:method` and `:path`. */
  open(headers: OutgoingHttpHeaders): http2.ClientHttp2Stream;
  /**
   * Cancels a stream opened here whose client has gone or lost its access: the work in the cluster stops
   * too. Never a reset on the shared session (CANCEL_GRACE_MS in @ztka/protocol).
   */
  cancel(stream: http2.ClientHttp2Stream): void;
  /** Why no new stream can travel this route, if none can. */
  gone(): ZtkaError | undefined;
  /**
   * What a stream's failure means for its client. A failure known to come before the request left for the
   * cluster (another replica no longer holding the tunnel, or not reachable) is `cluster_unavailable` with
   * Retry-After, which kubectl retries by itself; anything else is a `bad_gateway`.
   */
  failure(err: unknown, stream: http2.ClientHttp2Stream): ZtkaError;
}

/** What the stream error means when nothing says otherwise. */
export function badGateway(err: unknown): ZtkaError {
  if (err instanceof ZtkaError) return err;
  return new ZtkaError('bad_gateway', 'the cluster connection failed while handling this request', {
    cause: err,
  });
}

/** The retryable answer for a request that never reached the cluster. */
export function notDelivered(cluster: string, why: string): ZtkaError {
  return new ZtkaError('cluster_unavailable', `cluster ${cluster} could not be reached (${why}); retry`, {
    retryAfterSeconds: 1,
  });
}

/** A stream the other side refused before doing anything with it (RFC 9113 §8.7): safe to retry. */
export function wasRefused(stream: http2.ClientHttp2Stream): boolean {
  return stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
}

/** The cluster's tunnel on this replica. */
export class LocalRoute implements TunnelRoute {
  readonly via = 'local';

  constructor(readonly session: AgentSession) {}

  get cluster(): string {
    return this.session.info.cluster;
  }

  get jitNamespace(): string {
    return this.session.info.jitNamespace;
  }

  open(headers: OutgoingHttpHeaders): http2.ClientHttp2Stream {
    // Node closes the request side of a GET at once unless told otherwise; an upgraded GET (exec over
    // WebSocket) needs it open for the bytes that follow, and a plain one ends it when its empty body does.
    return this.session.h2.request(headers, { endStream: false });
  }

  cancel(stream: http2.ClientHttp2Stream): void {
    this.session.cancel(stream);
  }

  gone(): ZtkaError | undefined {
    const h2 = this.session.h2;
    return h2.closed || h2.destroyed
      ? new ZtkaError('bad_gateway', `the tunnel to cluster ${this.cluster} closed`)
      : undefined;
  }

  failure(err: unknown): ZtkaError {
    return badGateway(err);
  }
}
