import http2 from 'node:http2';
import type { Logger } from 'pino';
import { WebSocket, createWebSocketStream } from 'ws';
import {
  AGENT_CONNECT_PATH,
  AGENT_VERSION_HEADER,
  CLUSTER_IDENTITY_HEADER,
  KUBE_VERSION_HEADER,
  TUNNEL_TUNING,
} from '@ztka/protocol';

export interface TunnelClientOptions {
  controllerUrl: string;
  /** The controller's CA (PEM); the controller's certificate must chain to it. */
  ca: string;
  credential: string;
  agentVersion: string;
  kubeVersion: string;
  clusterIdentity: string;
  /** Serves each stream the controller opens. */
  onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void;
  log: Logger;
  /** A connection that sees no ping from the controller for this long is presumed dead. */
  pingTimeoutMs?: number;
  backoff?: { initialMs: number; maxMs: number };
}

/** Delay before reconnect attempt `n` (0-based): exponential, capped, with full jitter so agents that lost
 * the controller together do not all return in the same instant. */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Keeps a tunnel to the controller open: dials out over WebSocket, serves HTTP/2 over it (the controller is
 * the HTTP/2 client), and redials with backoff whenever the connection ends.
 */
export class TunnelClient {
  private stopped = false;
  private ws: WebSocket | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly server: http2.Http2Server;
  /** Resolves when the next tunnel is up (at once while one is); tests and the demo wait on it. */
  connected: Promise<void>;
  private markConnected: (() => void) | undefined;

  constructor(private readonly opts: TunnelClientOptions) {
    this.server = http2.createServer({ settings: TUNNEL_TUNING.http2 });
    this.server.on('stream', (stream, headers) => opts.onStream(stream, headers));
    this.server.on('session', (session) => session.setLocalWindowSize(TUNNEL_TUNING.sessionWindowSize));
    this.connected = this.pending();
  }

  /** A fresh promise for the next open tunnel. Only ever replaced after it resolved: a caller already
   * waiting must not be left holding a promise nobody will settle when a dial fails before opening. */
  private pending(): Promise<void> {
    return new Promise((resolve) => (this.markConnected = resolve));
  }

  /** Whether a tunnel is open right now. */
  get isConnected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.dial();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.terminate();
  }

  private dial(): void {
    if (this.stopped) return;
    const { opts } = this;
    const url = new URL(AGENT_CONNECT_PATH, opts.controllerUrl.replace(/^http/, 'ws'));
    const ws = new WebSocket(url, {
      ca: opts.ca,
      headers: {
        authorization: `Bearer ${opts.credential}`,
        [AGENT_VERSION_HEADER]: opts.agentVersion,
        [KUBE_VERSION_HEADER]: opts.kubeVersion,
        [CLUSTER_IDENTITY_HEADER]: opts.clusterIdentity,
      },
      perMessageDeflate: false,
      maxPayload: 64 << 20,
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    let pingWatch: NodeJS.Timeout | undefined;
    const pingTimeoutMs = opts.pingTimeoutMs ?? 45_000;
    const armPingWatch = () => {
      clearTimeout(pingWatch);
      pingWatch = setTimeout(() => {
        opts.log.warn('no ping from the controller; reconnecting');
        ws.terminate();
      }, pingTimeoutMs);
    };

    ws.on('unexpected-response', (_req, res) => {
      opts.log.error({ status: res.statusCode }, 'the controller refused the tunnel');
      res.resume();
    });
    ws.on('open', () => {
      this.attempt = 0;
      opts.log.info({ controller: url.origin }, 'tunnel connected');
      armPingWatch();
      this.server.emit('connection', createWebSocketStream(ws, TUNNEL_TUNING.streamBuffer));
      this.markConnected?.();
      this.markConnected = undefined;
    });
    ws.on('ping', armPingWatch);
    ws.on('error', (err) => opts.log.warn({ err: err.message }, 'tunnel error'));
    ws.on('close', () => {
      clearTimeout(pingWatch);
      if (this.stopped) return;
      if (!this.markConnected) this.connected = this.pending();
      const { initialMs, maxMs } = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
      const delay = backoffDelay(this.attempt++, initialMs, maxMs);
      opts.log.info({ delayMs: delay }, 'tunnel closed; reconnecting');
      this.timer = setTimeout(() => this.dial(), delay);
    });
  }
}
