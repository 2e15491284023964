import type { KeyObject } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, createWebSocketStream } from 'ws';
import {
  AGENT_CONNECT_PATH,
  AGENT_PROOF_HEADER,
  AGENT_VERSION_HEADER,
  CLUSTER_IDENTITY_HEADER,
  JIT_NAMESPACE_HEADER,
  KUBE_VERSION_HEADER,
  TUNNEL_TRANSPORTS,
  TUNNEL_TUNING,
  agentCredentialId,
  signAgentProof,
  type TunnelTransport,
} from '@ztka/protocol';

const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface TunnelClientOptions {
  controllerUrl: string;
  /** The controller's CA (PEM); the controller's certificate must chain to it. */
  ca: string;
  credential: string;
  /** The private half of the key registered with the credential: each connect carries a fresh proof. */
  privateKey: KeyObject;
  agentVersion: string;
  kubeVersion: string;
  clusterIdentity: string;
  /** Where people's service accounts live; the controller keeps everyone out of it. */
  jitNamespace: string;
  /** Serves each stream the controller opens. */
  onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void;
  log: Logger;
  /** `h2` (default) or `websocket`, for networks whose proxies pass nothing else. */
  transport?: TunnelTransport;
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

/** Logs the controller's refusal with its reason (the body's message says what to do about it), then `end`s. */
function refused(res: http.IncomingMessage, log: Logger, end: () => void): void {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => {
    if (text.length < 1024) text += c;
  });
  res.on('error', () => undefined);
  res.on('close', () => {
    let reason = text.slice(0, 1024);
    try {
      reason = (JSON.parse(text) as { message?: string }).message ?? reason;
    } catch {
      // not ztka's error shape: shown as it came
    }
    // 409: the cluster's tunnel is open elsewhere, and this agent waits its turn (with backoff).
    const level = res.statusCode === 409 ? 'warn' : 'error';
    log[level]({ status: res.statusCode, reason }, 'the controller refused the tunnel');
    end();
  });
}

/**
 * Keeps a tunnel to the controller open: dials out, upgrades the connection (to HTTP/2 directly, or to a
 * WebSocket carrying it), serves HTTP/2 over it (the controller is the HTTP/2 client), and redials with
 * backoff whenever the connection ends.
 */
export class TunnelClient {
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Ends the current dial or tunnel, whatever stage it is at. */
  private hangUp: (() => void) | undefined;
  private session: http2.ServerHttp2Session | undefined;
  /** Resolves when the next tunnel is up (at once while one is); tests and the demo wait on it. */
  connected: Promise<void>;
  private markConnected: (() => void) | undefined;

  constructor(private readonly opts: TunnelClientOptions) {
    this.connected = this.pending();
  }

  /** A fresh promise for the next open tunnel. Only ever replaced after it resolved: a caller already
   * waiting must not be left holding a promise nobody will settle when a dial fails before opening. */
  private pending(): Promise<void> {
    return new Promise((resolve) => (this.markConnected = resolve));
  }

  /** Whether a tunnel is open right now. */
  get isConnected(): boolean {
    return this.session !== undefined && !this.session.closed && !this.session.destroyed;
  }

  start(): void {
    this.dial();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.hangUp?.();
  }

  private get transport(): TunnelTransport {
    return this.opts.transport ?? 'h2';
  }

  private headers(): Record<string, string> {
    const { opts } = this;
    const claims = {
      credentialId: agentCredentialId(opts.credential),
      clusterIdentity: opts.clusterIdentity,
      jitNamespace: opts.jitNamespace,
    };
    return {
      authorization: `Bearer ${opts.credential}`,
      [AGENT_PROOF_HEADER]: signAgentProof(opts.privateKey, claims),
      [AGENT_VERSION_HEADER]: opts.agentVersion,
      [KUBE_VERSION_HEADER]: opts.kubeVersion,
      [CLUSTER_IDENTITY_HEADER]: opts.clusterIdentity,
      [JIT_NAMESPACE_HEADER]: opts.jitNamespace,
    };
  }

  private dial(): void {
    if (this.stopped) return;
    const url = new URL(AGENT_CONNECT_PATH, this.opts.controllerUrl);
    let ended = false;
    // Every way a dial or a tunnel ends comes here once: refused, failed, closed, or silent too long.
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(pingWatch);
      this.session?.destroy();
      this.session = undefined;
      hangUp();
      if (this.stopped) return;
      if (!this.markConnected) this.connected = this.pending();
      const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
      const delay = backoffDelay(this.attempt++, initialMs, maxMs);
      this.opts.log.info({ delayMs: delay }, 'tunnel closed; reconnecting');
      this.timer = setTimeout(() => this.dial(), delay);
    };
    let pingWatch: NodeJS.Timeout | undefined;
    const armPingWatch = () => {
      clearTimeout(pingWatch);
      pingWatch = setTimeout(() => {
        this.opts.log.warn('no ping from the controller; reconnecting');
        end();
      }, this.opts.pingTimeoutMs ?? 45_000);
    };
    const serve = (stream: Duplex) => {
      if (ended) return stream.destroy();
      const session = http2.performServerHandshake(stream, { settings: TUNNEL_TUNING.http2 });
      this.session = session;
      session.setLocalWindowSize(TUNNEL_TUNING.sessionWindowSize);
      session.on('stream', (s, h) => this.opts.onStream(s, h));
      session.on('ping', armPingWatch);
      session.on('error', (err) => this.opts.log.warn({ err: err.message }, 'tunnel session error'));
      session.on('close', end);
      stream.on('close', end);
      this.attempt = 0;
      this.opts.log.info({ controller: url.origin, transport: this.transport }, 'tunnel connected');
      armPingWatch();
      this.markConnected?.();
      this.markConnected = undefined;
    };
    const hangUp =
      this.transport === 'websocket' ? this.dialWebSocket(url, serve, end) : this.dialH2(url, serve, end);
    this.hangUp = () => {
      clearTimeout(pingWatch);
      hangUp();
      this.session?.destroy();
    };
  }

  /** Upgrades a TLS connection to the tunnel's HTTP/2; returns how to abandon it. */
  private dialH2(url: URL, serve: (s: Duplex) => void, end: () => void): () => void {
    const { opts } = this;
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      ca: opts.ca,
      agent: false,
      timeout: HANDSHAKE_TIMEOUT_MS,
      headers: { ...this.headers(), connection: 'Upgrade', upgrade: TUNNEL_TRANSPORTS.h2 },
    });
    let socket: Duplex | undefined;
    req.on('upgrade', (_res, upgraded, head) => {
      socket = upgraded;
      if (upgraded instanceof Socket) {
        upgraded.setTimeout(0);
        upgraded.setNoDelay(true);
      }
      upgraded.on('error', (err) => opts.log.warn({ err: err.message }, 'tunnel error'));
      // A socket that dies before it is served (no 'finish' then) must still lead to a redial.
      upgraded.once('close', end);
      if (head.length > 0) upgraded.unshift(head);
      // nghttp2 must not take the socket while the request's own write is still in flight (a busy process
      // can read the 101 before that write's completion); 'finish' is that completion.
      if (req.writableFinished) serve(upgraded);
      else req.once('finish', () => serve(upgraded));
    });
    req.on('response', (res) => refused(res, opts.log, end));
    req.on('timeout', () => req.destroy(new Error('the controller did not answer the upgrade in time')));
    req.on('error', (err) => {
      opts.log.warn({ err: err.message }, 'tunnel error');
      end();
    });
    req.end();
    return () => {
      req.destroy();
      socket?.destroy();
    };
  }

  /** Opens a WebSocket and runs the tunnel's HTTP/2 inside it; returns how to abandon it. */
  private dialWebSocket(url: URL, serve: (s: Duplex) => void, end: () => void): () => void {
    const { opts } = this;
    const ws = new WebSocket(url.href.replace(/^http/, 'ws'), {
      ca: opts.ca,
      headers: this.headers(),
      perMessageDeflate: false,
      maxPayload: 64 << 20,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    ws.on('unexpected-response', (_req, res) => refused(res, opts.log, () => ws.terminate()));
    ws.on('open', () => serve(createWebSocketStream(ws, TUNNEL_TUNING.streamBuffer)));
    ws.on('error', (err) => opts.log.warn({ err: err.message }, 'tunnel error'));
    ws.on('close', end);
    return () => ws.terminate();
  }
}
