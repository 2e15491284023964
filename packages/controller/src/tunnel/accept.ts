import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import {
  AGENT_VERSION_HEADER,
  CLUSTER_IDENTITY_HEADER,
  KUBE_VERSION_HEADER,
  ZtkaError,
} from '@ztka/protocol';
import { AgentSession, type KeepaliveOptions, type TunnelRegistry } from './session.js';

/** What the tunnel endpoint needs from the cluster registry. */
export interface AgentDirectory {
  authenticateAgent(
    credential: string,
  ): Promise<{ clusterName: string; identity: string | null } | undefined>;
  markConnected(cluster: string, versions: { agentVersion: string; kubeVersion: string }): Promise<void>;
  markDisconnected(cluster: string): Promise<void>;
  markSeen(cluster: string): Promise<void>;
}

/** How often a live tunnel's `last seen` is written: often enough for operators, rare enough for the store. */
const SEEN_WRITE_INTERVAL_MS = 30_000;

const MAX_HEADER_VALUE = 256;

function header(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value)?.slice(0, MAX_HEADER_VALUE) ?? '';
}

function refuse(socket: Duplex, err: ZtkaError): void {
  const body = JSON.stringify({ code: err.code, message: err.message });
  socket.end(
    `HTTP/1.1 ${err.status} ${err.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The agents' endpoint: authenticates the agent's credential before the WebSocket handshake completes, checks
 * that the cluster behind it is the one the credential was issued to, and turns the connection into a tunnel.
 */
export function createAgentEndpoint(deps: {
  directory: AgentDirectory;
  tunnels: TunnelRegistry;
  log: Logger;
  keepalive: KeepaliveOptions;
}) {
  // The tunnel carries HTTP/2 frames, which nghttp2 already sizes; no compression (it would cost CPU on
  // every byte of every LIST) and no message size cap beyond ws's own frame handling.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 << 20 });

  return async function handleAgentUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    socket.on('error', () => socket.destroy());
    const auth = header(req, 'authorization');
    const credential = auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
    const agent = credential ? await deps.directory.authenticateAgent(credential) : undefined;
    if (!agent) {
      deps.log.warn({ remote: req.socket.remoteAddress }, 'agent connection refused: bad credential');
      refuse(socket, new ZtkaError('unauthorized', 'a valid agent credential is required'));
      return;
    }
    const identity = header(req, CLUSTER_IDENTITY_HEADER);
    if (agent.identity !== null && identity !== agent.identity) {
      deps.log.warn({ cluster: agent.clusterName }, 'agent connection refused: cluster identity differs');
      refuse(socket, new ZtkaError('forbidden', 'this credential belongs to another cluster'));
      return;
    }
    // Status writes are best effort: a store hiccup must not take the tunnel (or the process) down.
    const storeFailed = (err: unknown) => deps.log.error({ err }, 'could not record agent status');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const info = {
        cluster: agent.clusterName,
        agentVersion: header(req, AGENT_VERSION_HEADER),
        kubeVersion: header(req, KUBE_VERSION_HEADER),
        remoteAddress: req.socket.remoteAddress ?? '',
      };
      const session = new AgentSession(info, ws, deps.log, deps.keepalive);
      deps.tunnels.add(session);
      deps.log.info(info, 'agent connected');
      void deps.directory.markConnected(info.cluster, info).catch(storeFailed);
      // Each pong proves the agent alive; record it, at most every SEEN_WRITE_INTERVAL_MS.
      let seenWritten = Date.now();
      ws.on('pong', () => {
        if (Date.now() - seenWritten < SEEN_WRITE_INTERVAL_MS) return;
        seenWritten = Date.now();
        void deps.directory.markSeen(info.cluster).catch(storeFailed);
      });
      session.onClose(() => {
        if (!deps.tunnels.get(info.cluster))
          void deps.directory.markDisconnected(info.cluster).catch(storeFailed);
      });
    });
  };
}
