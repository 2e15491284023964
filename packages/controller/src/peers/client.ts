// This replica's side of the peer hop: one HTTP/2 session per other replica (over mutual TLS, the other end
// checked to be the replica the store names, not merely any replica), and the route a request takes
// through it to a tunnel held there.
import http2 from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import { TUNNEL_TUNING, type ZtkaError } from '@ztka/protocol';
import { replicaOf, type PeerCredentials } from '../pki/peer.js';
import { badGateway, notDelivered, wasRefused, type TunnelRoute } from '../tunnel/route.js';
import { InBandCancels } from '../tunnel/cancellation.js';
import { PEER_CLUSTER_HEADER, PEER_OPS, PEER_OP_HEADER, PEER_SESSION_HEADER } from './wire.js';
import type { ProbeAnswer, TunnelLocation } from '../tunnel/claims.js';

/** A peer that answers no ping for this long is taken for gone, and its streams fail. */
const PEER_PING_MS = 3000;
const PEER_CONNECT_TIMEOUT_MS = 5000;

export class PeerClients {
  readonly #sessions = new Map<string, { url: string; h2: http2.ClientHttp2Session }>();
  /** Why each session failed, for probes whose streams only learn that they were cancelled. */
  readonly #failures = new WeakMap<http2.ClientHttp2Session, Error>();
  readonly #cancels = new WeakMap<http2.ClientHttp2Session, InBandCancels>();

  constructor(
    private readonly credentials: PeerCredentials,
    private readonly log: Logger,
  ) {}

  /** The session to `replicaId` at `url`, opened if there is none usable. */
  session(replicaId: string, url: string): http2.ClientHttp2Session {
    const known = this.#sessions.get(replicaId);
    if (known && known.url === url && !known.h2.closed && !known.h2.destroyed) return known.h2;
    known?.h2.destroy();
    const h2 = http2.connect(url, {
      ca: this.credentials.caPem,
      cert: this.credentials.certPem,
      key: this.credentials.keyPem,
      minVersion: 'TLSv1.3',
      settings: TUNNEL_TUNING.http2,
      maxHeaderListPairs: TUNNEL_TUNING.maxHeaderListPairs,
      // Any replica holds a certificate of the replicas' CA; this one must be the replica meant.
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        replicaOf(cert) === replicaId
          ? undefined
          : new Error(`the peer at ${url} is not replica ${replicaId}`),
    });
    h2.on('connect', () => h2.setLocalWindowSize(TUNNEL_TUNING.sessionWindowSize));
    // A black-holed address would hold requests for the system's SYN timeout (minutes).
    const connecting = setTimeout(() => {
      if (h2.connecting) h2.destroy(new Error(`replica ${replicaId} at ${url} did not answer`));
    }, PEER_CONNECT_TIMEOUT_MS).unref();
    h2.once('connect', () => clearTimeout(connecting));
    h2.on('error', (err) => {
      this.#failures.set(h2, err);
      this.log.warn({ replica: replicaId, err: err.message }, 'peer session failed');
    });
    let unanswered = false;
    const keepalive = setInterval(() => {
      if (h2.connecting) return;
      if (unanswered) return h2.destroy(new Error(`replica ${replicaId} stopped answering`));
      unanswered = true;
      try {
        h2.ping(() => (unanswered = false));
      } catch {
        h2.destroy();
      }
    }, PEER_PING_MS).unref();
    h2.on('close', () => {
      clearInterval(keepalive);
      if (this.#sessions.get(replicaId)?.h2 === h2) this.#sessions.delete(replicaId);
    });
    h2.unref();
    this.#sessions.set(replicaId, { url, h2 });
    return h2;
  }

  /**
   * Asks the holder whether its tunnel answers. A definite "no" is the holder's own answer, or nothing
   * listening at its address (the process is gone); anything else (no answer in `timeoutMs`, a network
   * error) is undefined: the holder may be alive and merely slow or cut off from this replica.
   */
  probe(at: TunnelLocation, timeoutMs: number): Promise<ProbeAnswer | undefined> {
    if (!at.peerUrl) return Promise.resolve(undefined);
    const h2 = this.session(at.replicaId, at.peerUrl);
    return new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = h2.request({
          ':method': 'POST',
          ':path': '/probe',
          [PEER_OP_HEADER]: PEER_OPS.probe,
          [PEER_CLUSTER_HEADER]: at.cluster,
          [PEER_SESSION_HEADER]: at.sessionId,
        });
      } catch {
        return resolve(undefined);
      }
      stream.setTimeout(timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      // A stream pending on a session that could not connect fails with ERR_HTTP2_STREAM_CANCEL, the
      // connection's own error as its cause.
      const refused = (err?: Error & { code?: string; cause?: unknown }) =>
        err?.code === 'ECONNREFUSED' ||
        (err?.cause as { code?: string } | undefined)?.code === 'ECONNREFUSED';
      stream.on('error', (err) => resolve(refused(err) ? { alive: false } : undefined));
      stream.on('end', () => {
        try {
          const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ProbeAnswer;
          resolve(typeof answer.alive === 'boolean' ? answer : undefined);
        } catch {
          resolve(undefined);
        }
      });
      stream.on('close', () => resolve(refused(this.#failures.get(h2)) ? { alive: false } : undefined));
      stream.end();
    });
  }

  /** How streams of `h2` are cancelled: named to the holder, which resets them. */
  cancels(h2: http2.ClientHttp2Session): InBandCancels {
    let cancels = this.#cancels.get(h2);
    if (!cancels) {
      cancels = new InBandCancels((streams) => sendCancels(h2, streams));
      this.#cancels.set(h2, cancels);
    }
    return cancels;
  }

  closeAll(): void {
    for (const { h2 } of this.#sessions.values()) h2.destroy();
    this.#sessions.clear();
  }
}

/** A cluster whose tunnel another replica holds: each stream goes there, named for that tunnel. */
export class PeerRoute implements TunnelRoute {
  constructor(
    private readonly at: TunnelLocation,
    private readonly h2: http2.ClientHttp2Session,
    private readonly cancels: InBandCancels,
  ) {}

  get cluster(): string {
    return this.at.cluster;
  }

  get jitNamespace(): string {
    return this.at.jitNamespace;
  }

  get via(): string {
    return this.at.replicaId;
  }

  open(headers: OutgoingHttpHeaders): http2.ClientHttp2Stream {
    return this.h2.request(
      {
        ...headers,
        [PEER_OP_HEADER]: PEER_OPS.proxy,
        [PEER_CLUSTER_HEADER]: this.at.cluster,
        [PEER_SESSION_HEADER]: this.at.sessionId,
      },
      { endStream: false },
    );
  }

  cancel(stream: http2.ClientHttp2Stream): void {
    this.cancels.cancel(stream);
  }

  gone(): ZtkaError | undefined {
    return this.h2.closed || this.h2.destroyed
      ? notDelivered(this.cluster, `the replica holding its tunnel is gone`)
      : undefined;
  }

  failure(err: unknown, stream: http2.ClientHttp2Stream): ZtkaError {
    // Refused by the holder (it holds that tunnel no more), or never sent (the holder cannot be reached).
    if (wasRefused(stream)) return notDelivered(this.cluster, 'its tunnel moved');
    if (stream.id === undefined)
      return notDelivered(this.cluster, 'the replica holding its tunnel is unreachable');
    return badGateway(err);
  }
}

/** The holder's status for a cancel op naming `streams` of this session. */
function sendCancels(h2: http2.ClientHttp2Session, streams: number[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = h2.request({ ':method': 'POST', ':path': '/cancel', [PEER_OP_HEADER]: PEER_OPS.cancel });
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('error', reject);
    stream.on('close', () => resolve(status));
    stream.resume();
    stream.end(JSON.stringify({ streams }));
  });
}
