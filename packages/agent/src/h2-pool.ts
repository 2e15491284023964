import http2 from 'node:http2';
import type tls from 'node:tls';

/** How often a session with requests in flight is asked to prove the apiserver behind it alive. */
const PING_INTERVAL_MS = 15_000;
/** How long a PING may go unanswered before the session is given up, with its streams. */
const PING_TIMEOUT_MS = 10_000;
/** How long the start-up probe waits for the first session. */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * HTTP/2 sessions to one kube-apiserver, shared by every person's requests (each carries its own bearer
 * token). One session multiplexes many requests, so a burst costs no handshakes and no header strings per
 * socket, and a large response arrives in large DATA frames that nghttp2 parses natively.
 *
 * A watch holds its stream for as long as it runs, so no session is given more than `streamsPerSession`
 * (or the apiserver's own limit): beyond that a new session opens, rather than new requests queueing
 * behind long-lived ones. A session idle for `idleMs` is closed. One with streams open is pinged: an
 * apiserver that died without closing its connections (behind a load balancer, say) would otherwise keep
 * every watch on it hanging, and take new requests, until TCP gave up minutes later.
 */
export class H2Pool {
  private readonly sessions = new Map<http2.ClientHttp2Session, { active: number }>();
  /** Set when the apiserver does not speak HTTP/2 (no `h2` in ALPN); callers then use HTTP/1.1. */
  unsupported = false;

  constructor(
    private readonly origin: string,
    private readonly secureContext: tls.SecureContext,
    private readonly opts: {
      rejectUnauthorized: boolean;
      streamsPerSession?: number;
      idleMs?: number;
      pingIntervalMs?: number;
      pingTimeoutMs?: number;
    },
  ) {}

  /**
   * Opens the first session at start, so that no person's request is the one to find out whether the
   * apiserver speaks HTTP/2. Only the apiserver's own answer (ALPN without `h2`) turns HTTP/2 off; an
   * apiserver that cannot be reached now may be reached later, and sessions are opened on demand.
   */
  probe(): Promise<'h2' | 'http/1.1' | 'unknown'> {
    return new Promise((resolve) => {
      const session = this.open();
      const timer = setTimeout(() => resolve('unknown'), PROBE_TIMEOUT_MS);
      timer.unref();
      session.once('connect', () => {
        clearTimeout(timer);
        resolve(this.unsupported ? 'http/1.1' : 'h2');
      });
      session.once('error', () => {
        clearTimeout(timer);
        resolve(this.unsupported ? 'http/1.1' : 'unknown');
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
      // Large frames and windows: a body of tens of MB arrives in a few hundred frames, not thousands.
      settings: { initialWindowSize: 4 << 20, maxFrameSize: 256 << 10, enablePush: false },
    });
    const state = { active: 0 };
    this.sessions.set(session, state);
    session.on('connect', (s) => {
      s.setLocalWindowSize(32 << 20);
      const socket = s.socket as tls.TLSSocket | undefined;
      if (socket && socket.alpnProtocol !== 'h2') this.noHttp2(s);
    });
    session.setTimeout(this.opts.idleMs ?? 60_000, () => {
      if (state.active === 0) session.close();
    });
    const pings = setInterval(() => {
      if (state.active === 0 || session.connecting || session.destroyed) return;
      let answered = false;
      session.ping((err) => (answered = !err));
      setTimeout(() => {
        if (!answered && !session.destroyed)
          session.destroy(new Error('the kube-apiserver stopped answering on this connection'));
      }, this.opts.pingTimeoutMs ?? PING_TIMEOUT_MS).unref();
    }, this.opts.pingIntervalMs ?? PING_INTERVAL_MS);
    pings.unref();
    // A session that failed or was told to go away takes no new streams; its running ones finish.
    const retire = () => {
      clearInterval(pings);
      this.sessions.delete(session);
    };
    session.on('goaway', retire);
    session.on('close', retire);
    session.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') this.noHttp2(session);
      retire();
    });
    return session;
  }

  /** The apiserver answered without `h2`: from now on every request takes HTTP/1.1. */
  private noHttp2(session: http2.ClientHttp2Session): void {
    this.unsupported = true;
    session.close();
  }
}
