import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import {
  CONTROL_HEADER,
  CONTROL_PATHS,
  TUNNEL_TUNING,
  ZtkaError,
  type TunnelTransport,
} from '@ztka/protocol';
import { InBandCancels } from './cancellation.js';

export interface AgentInfo {
  cluster: string;
  agentVersion: string;
  kubeVersion: string;
  /** Where the agent keeps people's service accounts; no request may reach it (protectedNamespaces). */
  jitNamespace: string;
  remoteAddress: string;
  transport: TunnelTransport;
}

/**
 * How the controller tells a live agent from a dead one: a PING every `intervalMs`, which must be answered
 * within `timeoutMs`, or the tunnel is closed and its requests fail. A ping still unanswered while bytes keep
 * arriving is not death: on a slow link the answer queues behind the data.
 */
export interface KeepaliveOptions {
  intervalMs: number;
  timeoutMs: number;
}

/** The connection under a session: the byte stream HTTP/2 runs over, and what is known of the wire. */
export interface TunnelConnection {
  stream: Duplex;
  /** Tears the connection down without ceremony. */
  end(): void;
  /** Bytes received on the connection so far (any count that only grows). */
  bytesReceived(): number;
}

/**
 * One agent's tunnel: an HTTP/2 client session over the byte stream the agent's connection became (the TLS
 * socket itself, or a WebSocket's stream). Every proxied request becomes one HTTP/2 stream, so multiplexing,
 * flow control and streaming are nghttp2's. Liveness is HTTP/2 PING, which nghttp2 answers natively on the
 * agent, whichever the transport.
 */
export class AgentSession {
  readonly h2: http2.ClientHttp2Session;
  /** This tunnel, as the store's tunnel locations name it: a later tunnel of the cluster has another. */
  readonly id = randomUUID();
  readonly connectedAt = Date.now();
  private closed = false;
  private readonly closeHandlers: Array<() => void> = [];
  private readonly aliveHandlers: Array<() => void> = [];
  private readonly keepalive: NodeJS.Timeout;
  private pingDeadline: NodeJS.Timeout | undefined;
  private readonly cancels = new InBandCancels(
    (streams) => this.control(CONTROL_PATHS.cancel, { streams }),
    undefined,
    () =>
      this.log.warn(
        { cluster: this.info.cluster, agentVersion: this.info.agentVersion },
        'the agent cannot cancel requests in-band (older than the controller): cancellations are paced resets',
      ),
  );

  constructor(
    readonly info: AgentInfo,
    private readonly connection: TunnelConnection,
    private readonly log: Logger,
    keepalive: KeepaliveOptions,
  ) {
    const transport = connection.stream;
    transport.on('error', () => this.close('tunnel stream error'));
    transport.on('close', () => this.close('agent disconnected'));
    // The listener keeps connections half-open, so an agent that hung up (a stopped or restarted pod) shows
    // only as the end of what it sends; HTTP/2 can do nothing more with that connection.
    transport.on('end', () => this.close('agent disconnected'));
    this.h2 = http2.connect(`http://${info.cluster}.agent.ztka`, {
      createConnection: () => transport,
      // A large window lets one stream (a big LIST, an exec copy) fill the tunnel instead of waiting for
      // window updates every 64 KiB.
      settings: TUNNEL_TUNING.http2,
      maxHeaderListPairs: TUNNEL_TUNING.maxHeaderListPairs,
    });
    this.h2.on('connect', (session) => session.setLocalWindowSize(TUNNEL_TUNING.sessionWindowSize));
    this.h2.on('error', (err) => {
      if (!this.closed) log.warn({ err: err.message, cluster: info.cluster }, 'tunnel session error');
    });
    this.h2.on('close', () => this.close('tunnel session closed'));
    this.keepalive = setInterval(() => this.ping(keepalive.timeoutMs), keepalive.intervalMs);
    this.keepalive.unref();
  }

  /** One ping at a time; its deadline moves on only while the connection keeps delivering bytes. */
  private ping(timeoutMs: number): void {
    if (this.pingDeadline || this.closed || this.h2.connecting || this.h2.destroyed) return;
    let received = this.connection.bytesReceived();
    const check = () => {
      const now = this.connection.bytesReceived();
      if (now > received) {
        received = now;
        this.pingDeadline = setTimeout(check, timeoutMs).unref();
        return;
      }
      this.log.warn({ cluster: this.info.cluster, timeoutMs }, 'agent stopped answering pings');
      this.close('the agent stopped answering');
    };
    this.pingDeadline = setTimeout(check, timeoutMs).unref();
    const sent = this.h2.ping((err) => {
      clearTimeout(this.pingDeadline);
      this.pingDeadline = undefined;
      if (err) return; // cancelled by a closing session
      for (const handler of this.aliveHandlers) handler();
    });
    if (!sent) {
      clearTimeout(this.pingDeadline);
      this.pingDeadline = undefined;
    }
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * Whether the agent is there now: it answers a PING within `timeoutMs`, or its connection keeps delivering
   * bytes meanwhile (on a slow, full link the answer queues behind data). Asked when another connection of
   * the cluster arrives, which may take the cluster only from a tunnel that is not.
   */
  probe(timeoutMs: number): Promise<boolean> {
    if (this.closed || this.h2.destroyed) return Promise.resolve(false);
    // Set up a moment ago, by a connection that passed every check: as alive as a tunnel gets.
    if (this.h2.connecting) return Promise.resolve(true);
    const received = this.connection.bytesReceived();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => resolve(this.isOpen && this.connection.bytesReceived() > received),
        timeoutMs,
      ).unref();
      const answered = (alive: boolean) => {
        clearTimeout(timer);
        resolve(alive && this.isOpen);
      };
      try {
        if (!this.h2.ping((err) => answered(!err))) answered(false);
      } catch {
        answered(false); // the session was already being destroyed
      }
    });
  }

  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  /** Called each time the agent answers a ping. */
  onAlive(handler: () => void): void {
    this.aliveHandlers.push(handler);
  }

  /** Cancels a stream of this tunnel in-band: the agent resets it (CANCEL_GRACE_MS says why). */
  cancel(stream: http2.ClientHttp2Stream): void {
    this.cancels.cancel(stream);
  }

  /** Sends a control message (CONTROL_PATHS) to the agent; resolves with the agent's status. */
  control(path: string, body: object, timeoutMs = 5000): Promise<number> {
    return new Promise((resolve, reject) => {
      const stream = this.h2.request({
        ':method': 'POST',
        ':path': path,
        [CONTROL_HEADER]: '1',
        'content-type': 'application/json',
      });
      stream.setTimeout(timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('error', reject);
      stream.on('close', () =>
        status ? resolve(status) : reject(new Error('control stream closed unanswered')),
      );
      stream.resume();
      stream.end(JSON.stringify(body));
    });
  }

  /** Ends the tunnel: in-flight streams fail at once, so their clients get an answer rather than a hang. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    clearTimeout(this.pingDeadline);
    this.log.info({ cluster: this.info.cluster, reason }, 'tunnel closed');
    // With an error, each stream still open fails with it: destroyed without one, nghttp2 would end them as
    // if complete. The agent is told NO_ERROR, so its side winds down quietly.
    this.h2.destroy(
      new ZtkaError('bad_gateway', `the tunnel to cluster ${this.info.cluster} closed: ${reason}`),
      http2.constants.NGHTTP2_NO_ERROR,
    );
    this.connection.end();
    for (const handler of this.closeHandlers.splice(0)) handler();
  }
}

/**
 * The live tunnel of each connected cluster. A cluster has at most one, and a second connection never takes
 * it over here: the agents' endpoint (accept.ts) decides, one connection of a cluster at a time, and closes
 * a tunnel that no longer answers before it adds the next.
 */
export class TunnelRegistry {
  private readonly sessions = new Map<string, AgentSession>();
  private readonly addListeners: Array<(session: AgentSession) => void> = [];

  /** Adds the cluster's tunnel; false (and `session` closed) if the cluster already has a live one. */
  add(session: AgentSession): boolean {
    const cluster = session.info.cluster;
    if (this.get(cluster)) {
      session.close('its cluster already has a live tunnel');
      return false;
    }
    this.sessions.set(cluster, session);
    for (const listener of this.addListeners) listener(session);
    session.onClose(() => {
      if (this.sessions.get(cluster) === session) this.sessions.delete(cluster);
    });
    return true;
  }

  get(cluster: string): AgentSession | undefined {
    const session = this.sessions.get(cluster);
    return session?.isOpen ? session : undefined;
  }

  /** Called for every new tunnel, e.g. to bring its agent's service accounts up to date. */
  onAdd(listener: (session: AgentSession) => void): void {
    this.addListeners.push(listener);
  }

  open(): AgentSession[] {
    return [...this.sessions.values()].filter((s) => s.isOpen);
  }

  get size(): number {
    return this.sessions.size;
  }

  closeAll(reason: string): void {
    for (const session of [...this.sessions.values()]) session.close(reason);
  }
}
