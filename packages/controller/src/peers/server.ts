// The peer listener: where other replicas bring requests for the tunnels this replica holds. Only a replica
// gets in (mutual TLS against the replicas' CA, pki/peer.ts), and a replica only sends what it has already
// authenticated, authorized and recorded, so nothing is checked again here but the tunnel: a stream for a
// tunnel this replica does not hold (any more) is refused before anything is done with it.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { SessionStreams, TUNNEL_TUNING, UPGRADE_HEADER, parseKubeTarget, relay } from '@ztka/protocol';
import { isLongRunning } from '../kube-proxy/audit.js';
import type { PeerCredentials } from '../pki/peer.js';
import { replicaOf } from '../pki/peer.js';
import type { AgentSession, TunnelRegistry } from '../tunnel/session.js';
import { PEER_CLUSTER_HEADER, PEER_OPS, PEER_OP_HEADER, PEER_SESSION_HEADER } from './wire.js';
import type { ProbeAnswer } from '../tunnel/claims.js';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** Headers that belong to the hop between replicas, not to the request. */
const HOP_HEADERS = new Set([
  ':authority',
  ':scheme',
  PEER_OP_HEADER,
  PEER_CLUSTER_HEADER,
  PEER_SESSION_HEADER,
]);

export interface PeerServer {
  /** host:port it listens on. */
  address: string;
  /**
   * For a stopping replica, before its tunnels close: new streams are refused (not delivered, so the
   * replica that sent them answers 503 with Retry-After and kubectl retries), and short requests already
   * carried may finish, for at most `graceMs`. Long-running ones (watches, follows, upgrades) end with the
   * tunnels, as their clients reconnect anyway.
   */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Whether a carried request may run for long: the drain does not wait for those. */
function longRunning(headers: http2.IncomingHttpHeaders): boolean {
  if (headers[UPGRADE_HEADER]) return true;
  const target = parseKubeTarget(String(headers[':method'] ?? 'GET'), String(headers[':path'] ?? ''));
  return target !== undefined && isLongRunning(target.kube, target.query);
}

export async function startPeerServer(deps: {
  listen: { host: string; port: number };
  credentials: PeerCredentials;
  tunnels: TunnelRegistry;
  /** How long a probed tunnel has to answer its ping. */
  probeTimeoutMs: number;
  log: Logger;
}): Promise<PeerServer> {
  const server = http2.createSecureServer({
    key: deps.credentials.keyPem,
    cert: deps.credentials.certPem,
    ca: deps.credentials.caPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    settings: TUNNEL_TUNING.http2,
    maxHeaderListPairs: TUNNEL_TUNING.maxHeaderListPairs,
  });
  // The http2 server keeps no list of its sessions; shutdown ends them.
  const open = new Set<http2.ServerHttp2Session>();
  // The replica at the other end of each session, from its verified certificate.
  const replicas = new WeakMap<http2.Http2Session, string | undefined>();
  // Each session's proxy streams by id, for the cancellations it sends in-band.
  const carried = new SessionStreams();
  // Requests carried and not yet over, with their headers: a drain waits for the short ones among them,
  // told apart only then, so that carrying a request costs no parse.
  const inFlight = new Map<http2.ServerHttp2Stream, http2.IncomingHttpHeaders>();
  let draining = false;
  server.on('session', (session) => {
    open.add(session);
    replicas.set(session, replicaOf((session.socket as TLSSocket).getPeerCertificate()));
    session.once('close', () => open.delete(session));
    session.setLocalWindowSize(TUNNEL_TUNING.sessionWindowSize);
    session.on('error', () => session.destroy());
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const from = stream.session ? replicas.get(stream.session) : undefined;
    const cluster = String(headers[PEER_CLUSTER_HEADER] ?? '');
    const sessionId = String(headers[PEER_SESSION_HEADER] ?? '');
    const tunnel = deps.tunnels.get(cluster);
    const held = tunnel !== undefined && tunnel.id === sessionId;
    if (!from) return stream.close(NGHTTP2_REFUSED_STREAM);
    switch (headers[PEER_OP_HEADER]) {
      case PEER_OPS.proxy: {
        if (!held || draining) return stream.close(NGHTTP2_REFUSED_STREAM);
        carried.track(stream);
        inFlight.set(stream, headers);
        stream.once('close', () => inFlight.delete(stream));
        return carry(stream, headers, tunnel);
      }
      case PEER_OPS.cancel: {
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > 1 << 20) stream.close(NGHTTP2_REFUSED_STREAM);
          else chunks.push(chunk);
        });
        stream.on('end', () => {
          let ids: unknown = [];
          try {
            ids = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { streams?: unknown }).streams;
          } catch {
            // Nothing to cancel.
          }
          carried.cancel(stream.session, ids);
          if (!stream.closed) {
            stream.respond({ ':status': 200 });
            stream.end();
          }
        });
        return;
      }
      case PEER_OPS.probe: {
        const answer = (body: ProbeAnswer) => {
          stream.respond({ ':status': 200, 'content-type': 'application/json' });
          stream.end(JSON.stringify(body));
        };
        if (!held) return answer({ alive: false });
        const { remoteAddress, agentVersion, transport } = tunnel.info;
        void tunnel.probe(deps.probeTimeoutMs).then((alive) => {
          if (!alive)
            tunnel.close('replaced: it did not answer a ping when another connection of its cluster arrived');
          if (!stream.closed) answer({ alive, live: { remoteAddress, agentVersion, transport } });
        });
        return;
      }
      default:
        stream.close(NGHTTP2_REFUSED_STREAM);
    }
  });
  // Anyone who reaches the port can fail a handshake: said at most once a minute, with a count.
  let refusedSince = 0;
  let refusedQuietly = 0;
  server.on('tlsClientError', (err) => {
    if (Date.now() - refusedSince < 60_000) return void refusedQuietly++;
    deps.log.warn({ err: err.message, alsoRefused: refusedQuietly }, 'peer connection refused');
    refusedSince = Date.now();
    refusedQuietly = 0;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.listen.port, deps.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    address: `${host}:${bound.port}`,
    drain: async (graceMs) => {
      draining = true;
      const short = [...inFlight].filter(([, headers]) => !longRunning(headers)).map(([stream]) => stream);
      if (short.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(short.map((stream) => new Promise((ended) => stream.once('close', ended)))),
        new Promise((gone) => (timer = setTimeout(gone, graceMs))),
      ]);
      clearTimeout(timer);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Streams of other replicas end with the tunnels; what is left is idle sessions.
        for (const session of open) session.destroy();
      }),
  };
}

/** Splices the peer's stream onto a new stream of the agent's tunnel, both ways, cancellation included. */
function carry(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  tunnel: AgentSession,
): void {
  const request: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_HEADERS.has(name)) request[name] = value;
  let upstream: http2.ClientHttp2Stream;
  try {
    upstream = tunnel.h2.request(request, { endStream: false });
  } catch {
    // The tunnel closed a moment ago: nothing travelled.
    return stream.close(NGHTTP2_REFUSED_STREAM);
  }
  upstream.on('error', () => undefined);
  relay(stream, upstream);
  upstream.on('response', (answer) => {
    // The peer may have cancelled meanwhile; answering a closed stream throws.
    if (stream.closed || stream.destroyed) return tunnel.cancel(upstream);
    try {
      stream.respond(answer);
    } catch {
      return tunnel.cancel(upstream);
    }
    relay(upstream, stream);
  });
  upstream.on('close', () => {
    if (stream.closed) return;
    // Ended whole: the relay has ended the peer's stream too. Otherwise pass on that it broke.
    if (upstream.rstCode !== undefined && upstream.rstCode !== 0)
      stream.close(upstream.rstCode === NGHTTP2_CANCEL ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR);
    else if (!stream.headersSent) stream.close(NGHTTP2_INTERNAL_ERROR);
  });
  stream.on('close', () => tunnel.cancel(upstream));
}
