import http2 from 'node:http2';
import type tls from 'node:tls';

/**
 * HTTP/2 sessions to one kube-apiserver, shared by every person's requests (each carries its own bearer
 * token). One session multiplexes many requests, so a burst costs no handshakes and no header strings per
 * socket, and a large response arrives in large DATA frames that nghttp2 parses natively.
 *
 * A watch holds its stream for as long as it runs, so no session is given more than `streamsPerSession`
 * (or the apiserver's own limit): beyond that a new session opens, rather than new requests queueing
 * behind long-lived ones. A session idle for `idleMs` is closed.
 */
export class H2Pool {
  private readonly sessions = new Map<http2.ClientHttp2Session, { active: number }>();
  /** Set when the apiserver does not speak HTTP/2 (no `h2` in ALPN); callers then use HTTP/1.1. */
  unsupported = false;

  constructor(
    private readonly origin: string,
    private readonly secureContext: tls.SecureContext,
    private readonly opts: { rejectUnauthorized: boolean; streamsPerSession?: number; idleMs?: number },
  ) {}

  /**
   * Whether the apiserver speaks HTTP/2, found by opening the first session; asked once at start, so no
   * person's request is the one that finds out.
   */
  probe(): Promise<boolean> {
    return new Promise((resolve) => {
      const session = this.open();
      session.once('connect', () => resolve(!this.unsupported));
      session.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') this.unsupported = true;
        resolve(false);
      });
    });
  }

  /** Opens a request stream on a session with room for it. */
  request(headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream {
    const session = this.pick();
    const state = this.sessions.get(session);
    const stream = session.request(headers, { endStream: false });
    if (state) {
      state.active++;
      stream.once('close', () => state.active--);
    }
    return stream;
  }

  close(): void {
    for (const session of this.sessions.keys()) session.close();
    this.sessions.clear();
  }

  private pick(): http2.ClientHttp2Session {
    for (const [session, state] of this.sessions) {
      if (session.closed || session.destroyed) continue;
      const limit = Math.min(
        this.opts.streamsPerSession ?? 100,
        session.remoteSettings.maxConcurrentStreams ?? Infinity,
      );
      if (state.active < limit) return session;
    }
    return this.open();
  }

  private open(): http2.ClientHttp2Session {
    const session = http2.connect(this.origin, {
      secureContext: this.secureContext,
      rejectUnauthorized: this.opts.rejectUnauthorized,
      // Large frames and windows: a LIST of tens of MB arrives in a few hundred frames, not thousands.
      settings: { initialWindowSize: 4 << 20, maxFrameSize: 256 << 10, enablePush: false },
    });
    this.sessions.set(session, { active: 0 });
    session.on('connect', (s) => {
      s.setLocalWindowSize(32 << 20);
      const socket = s.socket as tls.TLSSocket | undefined;
      if (socket && socket.alpnProtocol !== 'h2') {
        this.unsupported = true;
        s.close();
      }
    });
    session.setTimeout(this.opts.idleMs ?? 60_000, () => {
      if ((this.sessions.get(session)?.active ?? 0) === 0) session.close();
    });
    // A session that failed or was told to go away takes no new streams; its running ones finish.
    const retire = () => this.sessions.delete(session);
    session.on('goaway', retire);
    session.on('close', retire);
    session.on('error', retire);
    return session;
  }
}
