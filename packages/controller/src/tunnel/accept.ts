import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { RequestLimits } from '../access/request-limits.js';
import { WebSocketServer, createWebSocketStream } from 'ws';
import {
  AGENT_PROOF_HEADER,
  AGENT_PROOF_WINDOW_MS,
  AGENT_VERSION_HEADER,
  CLUSTER_IDENTITY_HEADER,
  JIT_NAMESPACE_HEADER,
  KUBE_VERSION_HEADER,
  TUNNEL_TRANSPORTS,
  TUNNEL_TUNING,
  ZtkaError,
  isTunnelTransport,
  parseAgentPublicKey,
  verifyAgentProof,
  type TunnelTransport,
} from '@ztka/protocol';
import type { AuthenticatedAgent } from '../clusters/agent-credentials.js';
import { refuseOnSocket } from '../http/limits.js';
import { DNS_LABEL_PATTERN } from '../org/names.js';
import type { AgentAlerts, AgentRefusal } from './alerts.js';
import type { TunnelClaims } from './claims.js';
import { AgentSession, type AgentInfo, type KeepaliveOptions, type TunnelRegistry } from './session.js';

/** What the tunnel endpoint needs from the cluster registry. */
export interface AgentDirectory {
  authenticateAgent(credential: string): Promise<AuthenticatedAgent | undefined>;
  /** False if this proof's nonce was accepted before (a replay). */
  consumeAgentProof(credentialId: string, nonce: string, expiresAt: number): Promise<boolean>;
  /** What the agent reported as its tunnel opened (versions, JIT namespace). */
  recordAgent(
    cluster: string,
    info: { agentVersion: string; kubeVersion: string; jitNamespace: string },
  ): Promise<void>;
  markSeen(cluster: string): Promise<void>;
}

/** How often a live tunnel's `last seen` is written: often enough for operators, rare enough for the store. */
const SEEN_WRITE_INTERVAL_MS = 30_000;

const MAX_HEADER_VALUE = 256;
const NAMESPACE_NAME = new RegExp(DNS_LABEL_PATTERN);

function header(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value)?.slice(0, MAX_HEADER_VALUE) ?? '';
}

// One answer for a missing or invalid credential and for a valid credential without a valid proof of its
// key: whoever copied a credential learns nothing from it, not even that the cluster exists.
const unauthorized = () => new ZtkaError('unauthorized', 'a valid agent credential is required');

function transportOf(req: IncomingMessage): TunnelTransport | undefined {
  const asked = header(req, 'upgrade').toLowerCase();
  return Object.keys(TUNNEL_TRANSPORTS)
    .filter(isTunnelTransport)
    .find((t) => TUNNEL_TRANSPORTS[t] === asked);
}

/** Switches the connection itself to the tunnel's HTTP/2 and hands over the socket once the 101 is out:
 * nghttp2 must not take a socket with a write of the HTTP/1 layer still in flight. */
function switchToH2(socket: Duplex, head: Buffer, ready: (socket: Duplex) => void): void {
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${TUNNEL_TRANSPORTS.h2}\r\n\r\n`,
    (err) => {
      if (err) return socket.destroy();
      if (head.length > 0) socket.unshift(head);
      ready(socket);
    },
  );
}

/**
 * Whether the connection proves it holds the private half of the key registered with `agent`'s credential:
 * undefined if it does, otherwise why not and what to answer. Each proof is accepted once (its nonce is
 * kept in the store, so on every replica), within AGENT_PROOF_WINDOW_MS of this controller's clock.
 */
async function keyRefusal(
  directory: AgentDirectory,
  agent: AuthenticatedAgent,
  proof: string,
  claims: { clusterIdentity: string; jitNamespace: string },
): Promise<{ reason: AgentRefusal; error: ZtkaError } | undefined> {
  if (agent.publicKey === null)
    return {
      reason: 'no_key',
      error: new ZtkaError(
        'unauthorized',
        'this agent credential was issued before agents held keys and is no longer accepted: register the ' +
          'agent again (apply a fresh bootstrap manifest, GET /v1/clusters/<cluster>/bootstrap.yaml, and ' +
          'restart the agent; an agent beside its cluster: run it with a new --bootstrap-token)',
      ),
    };
  const key = parseAgentPublicKey(agent.publicKey);
  const now = Date.now();
  const check = key
    ? verifyAgentProof(proof, key, { credentialId: agent.credentialId, ...claims }, now)
    : ({ ok: false, reason: 'signature' } as const);
  if (!check.ok && check.reason === 'clock')
    return {
      reason: 'clock',
      error: new ZtkaError(
        'unauthorized',
        `the agent's key proof is dated more than ${AGENT_PROOF_WINDOW_MS / 60_000} minutes away from the ` +
          `controller's clock (${new Date(now).toISOString()}): set the clock of the agent's host right`,
      ),
    };
  if (!check.ok) return { reason: 'key_proof', error: unauthorized() };
  const fresh = await directory.consumeAgentProof(
    agent.credentialId,
    check.nonce,
    check.at + AGENT_PROOF_WINDOW_MS,
  );
  return fresh ? undefined : { reason: 'replay', error: unauthorized() };
}

/** Runs `fn` for one connection of a cluster at a time, so that two cannot both find the cluster free. */
function serialiser() {
  const queues = new Map<string, Promise<void>>();
  return (cluster: string, fn: () => Promise<void>): Promise<void> => {
    const run = (queues.get(cluster) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    queues.set(cluster, tail);
    void tail.then(() => {
      if (queues.get(cluster) === tail) queues.delete(cluster);
    });
    return run;
  };
}

/**
 * The agents' endpoint. Before the upgrade completes it authenticates the agent's credential, checks the
 * proof of the key registered with it and that the cluster behind it is the one the credential was issued
 * to, and decides whether the cluster's tunnel is free: a connection for a cluster whose tunnel is open and
 * answering is refused (409), and one whose tunnel no longer answers replaces it; either way it is recorded
 * and counted (alerts.ts). Then it turns the connection into the cluster's tunnel.
 */
export function createAgentEndpoint(deps: {
  directory: AgentDirectory;
  tunnels: TunnelRegistry;
  /** The cluster's tunnel across replicas (peers/router.ts). */
  claims: TunnelClaims;
  log: Logger;
  keepalive: KeepaliveOptions;
  alerts: AgentAlerts;
  /** Connections with a credential that is not an agent's are limited per address, as any other. */
  limits: Pick<RequestLimits, 'anonymous'>;
}) {
  // Over WebSocket the tunnel carries HTTP/2 frames, which nghttp2 already sizes; no compression (it would
  // cost CPU on every byte of every LIST) and no message size cap beyond ws's own frame handling.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 << 20 });
  const oneAtATime = serialiser();

  return async function handleAgentUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    socket.on('error', () => socket.destroy());
    const refuse = (err: ZtkaError) => refuseOnSocket(socket, req.url, err);
    const transport = transportOf(req);
    if (!transport) {
      refuse(
        new ZtkaError(
          'bad_request',
          `the tunnel is opened with Upgrade: ${Object.values(TUNNEL_TRANSPORTS).join(' or ')}`,
        ),
      );
      return;
    }
    const auth = header(req, 'authorization');
    const credential = auth.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : '';
    const agent = credential ? await deps.directory.authenticateAgent(credential) : undefined;
    const remoteAddress = req.socket.remoteAddress ?? '';
    if (!agent) {
      try {
        await deps.limits.anonymous(remoteAddress);
      } catch (err) {
        // Past the address's limit: answered, not logged again.
        refuse(err as ZtkaError);
        return;
      }
      deps.log.warn({ remote: remoteAddress }, 'agent connection refused: bad credential');
      deps.alerts.unauthenticated();
      refuse(unauthorized());
      return;
    }
    const identity = header(req, CLUSTER_IDENTITY_HEADER);
    const jitNamespace = header(req, JIT_NAMESPACE_HEADER);
    const refused = (reason: AgentRefusal, error: ZtkaError) => {
      deps.log.warn(
        { cluster: agent.clusterName, remote: remoteAddress, reason },
        'agent connection refused',
      );
      deps.alerts.refused(agent.clusterName, reason, remoteAddress, { credentialId: agent.credentialId });
      refuse(error);
    };
    const keyless = await keyRefusal(deps.directory, agent, header(req, AGENT_PROOF_HEADER), {
      clusterIdentity: identity,
      jitNamespace,
    });
    if (keyless) return refused(keyless.reason, keyless.error);
    if (agent.identity !== null && identity !== agent.identity)
      return refused('identity', new ZtkaError('forbidden', 'this credential belongs to another cluster'));
    // Without it the controller could not keep people out of the agent's namespace on this cluster.
    if (!NAMESPACE_NAME.test(jitNamespace)) {
      deps.log.warn({ cluster: agent.clusterName }, 'agent connection refused: no JIT namespace reported');
      refuse(
        new ZtkaError(
          'bad_request',
          `the agent must report its JIT namespace in ${JIT_NAMESPACE_HEADER} (a DNS-1123 label); upgrade the agent`,
        ),
      );
      return;
    }
    // Status writes are best effort: a store hiccup must not take the tunnel (or the process) down.
    const storeFailed = (err: unknown) => deps.log.error({ err }, 'could not record agent status');
    // What has arrived on the wire, whichever protocol reads it: a busy tunnel is a live one.
    const bytesReceived = () => (socket instanceof Socket ? socket.bytesRead : 0);
    const info: AgentInfo = {
      cluster: agent.clusterName,
      agentVersion: header(req, AGENT_VERSION_HEADER),
      kubeVersion: header(req, KUBE_VERSION_HEADER),
      jitNamespace,
      remoteAddress,
      transport,
    };
    const open = (stream: Duplex, end: () => void, replacing: string | null) => {
      const session = new AgentSession(info, { stream, end, bytesReceived }, deps.log, deps.keepalive);
      if (!deps.tunnels.add(session)) return;
      deps.log.info(info, 'agent connected');
      void deps.claims
        .claim(session, replacing)
        .then(async (won) => {
          if (!won) return session.close('another connection of its cluster took the cluster meanwhile');
          await deps.directory.recordAgent(info.cluster, info);
        })
        .catch(storeFailed);
      // Each answered ping proves the agent alive; record it, at most every SEEN_WRITE_INTERVAL_MS.
      let seenWritten = Date.now();
      session.onAlive(() => {
        if (Date.now() - seenWritten < SEEN_WRITE_INTERVAL_MS) return;
        seenWritten = Date.now();
        void deps.directory.markSeen(info.cluster).catch(storeFailed);
      });
      session.onClose(() => void deps.claims.release(session).catch(storeFailed));
    };
    // Resolves once the connection is the cluster's tunnel, or is gone.
    const upgrade = (replacing: string | null) =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once('close', () => resolve());
        if (transport === 'websocket') {
          wss.handleUpgrade(req, socket, head, (ws) => {
            open(createWebSocketStream(ws, TUNNEL_TUNING.streamBuffer), () => ws.terminate(), replacing);
            resolve();
          });
          return;
        }
        if (socket instanceof Socket) {
          // The HTTP server's idle timeout is for requests; a quiet tunnel is watched by pings instead.
          socket.setTimeout(0);
          socket.setNoDelay(true);
        }
        switchToH2(socket, head, (s) => {
          open(s, () => s.destroy(), replacing);
          resolve();
        });
      });
    await oneAtATime(agent.clusterName, async () => {
      const free = await freeFor(deps, info);
      if (free) return upgrade(free.replacing);
      refuse(
        new ZtkaError(
          'conflict',
          `cluster ${info.cluster} already has a live tunnel; a second connection may not take it over (recorded)`,
        ),
      );
    });
  };
}

/**
 * Whether the cluster's tunnel is free for a newcomer, and which tunnel the newcomer then replaces: there is
 * none, or it no longer answers (it is closed then, by whichever replica holds it). While it answers it keeps
 * its cluster: a copy of the agent's credential and key (or a second replica of the agent) cannot take the
 * cluster's traffic over, only be noticed, whichever controller replica it reaches. Each contest is reported.
 */
async function freeFor(
  deps: {
    tunnels: TunnelRegistry;
    claims: TunnelClaims;
    keepalive: KeepaliveOptions;
    alerts: AgentAlerts;
    log: Logger;
  },
  newcomer: AgentInfo,
): Promise<{ replacing: string | null } | undefined> {
  const seen = { remoteAddress: newcomer.remoteAddress, agentVersion: newcomer.agentVersion };
  const refused = () => {
    deps.log.warn(
      { cluster: newcomer.cluster, remote: seen.remoteAddress },
      'agent connection refused: tunnel in use',
    );
    return undefined;
  };
  const live = deps.tunnels.get(newcomer.cluster);
  if (live) {
    if (await live.probe(deps.keepalive.timeoutMs)) {
      deps.alerts.contested('refused', live.info, seen);
      return refused();
    }
    deps.alerts.contested('replaced', live.info, seen);
    live.close('replaced: it did not answer a ping when another connection of its cluster arrived');
    return { replacing: live.id };
  }
  const at = await deps.claims.holder(newcomer.cluster);
  // Nobody's, a tunnel of this replica already closing, or one of a replica that stopped.
  if (!at || deps.claims.isOwn(at) || !at.live) return { replacing: at?.sessionId ?? null };
  const answer = await deps.claims.probe(at, deps.keepalive.timeoutMs);
  // No definite answer: the holder may be alive, so the tunnel stays where it is (fail closed).
  if (!answer) {
    deps.log.warn(
      { cluster: newcomer.cluster, remote: seen.remoteAddress },
      'agent connection refused: the replica holding its tunnel did not answer',
    );
    deps.alerts.contested('refused', { ...newcomer, remoteAddress: '', agentVersion: '' }, seen);
    return undefined;
  }
  const transport = answer.live?.transport ?? '';
  const described: AgentInfo = {
    ...newcomer,
    remoteAddress: answer.live?.remoteAddress ?? '',
    agentVersion: answer.live?.agentVersion ?? '',
    transport: isTunnelTransport(transport) ? transport : newcomer.transport,
  };
  if (answer.alive) {
    deps.alerts.contested('refused', described, seen);
    return refused();
  }
  deps.alerts.contested('replaced', described, seen);
  return { replacing: at.sessionId };
}
