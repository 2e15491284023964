import { isPodSecurityLevel, type PodSecurityLevel } from './pod-security.js';

/**
 * What travels on the tunnel besides the kube request itself. The agent dials AGENT_CONNECT_PATH over TLS and
 * asks to upgrade the connection (TUNNEL_TRANSPORTS); HTTP/2 then runs over that byte stream with the
 * controller as client and the agent as server, so each proxied request is one HTTP/2 stream. HTTP/2 forbids the hop-by-hop `Connection` and
 * `Upgrade` headers, so an upgrade (exec, attach, port-forward) is announced with UPGRADE_HEADER both ways:
 * the controller sends the client's Upgrade value; the agent answers with UPGRADE_STATUS_HEADER 101 (and the
 * apiserver's Upgrade value) once the apiserver switched protocols, after which the stream carries raw bytes.
 */
export const AGENT_CONNECT_PATH = '/v1/agents/connect';
export const AGENT_REGISTER_PATH = '/v1/agents/register';

/**
 * The two ways the agent's connection becomes the tunnel, named by their `Upgrade` token. `h2` (the default)
 * switches the TLS connection itself to HTTP/2, so nghttp2 reads and writes the socket natively; `websocket`
 * carries the same HTTP/2 bytes inside WebSocket messages, for networks whose proxies pass WebSocket and
 * nothing else, at about a third of the throughput (docs/performance.md).
 */
export const TUNNEL_TRANSPORTS = { h2: 'ztka-tunnel-h2', websocket: 'websocket' } as const;
export type TunnelTransport = keyof typeof TUNNEL_TRANSPORTS;

export function isTunnelTransport(value: string): value is TunnelTransport {
  return Object.hasOwn(TUNNEL_TRANSPORTS, value);
}

export const UPGRADE_HEADER = 'x-ztka-upgrade';
export const UPGRADE_STATUS_HEADER = 'x-ztka-upgrade-status';
/** The controller's audit id for the request; the agent passes it to the apiserver as `Audit-ID`. */
export const AUDIT_ID_HEADER = 'x-ztka-audit-id';
/** Who the request is for: a base64url JSON TunnelIdentity. */
export const IDENTITY_HEADER = 'x-ztka-identity';

/** Headers the agent sends when it connects, so the controller can show versions and check identity. */
export const AGENT_VERSION_HEADER = 'x-ztka-agent-version';
export const KUBE_VERSION_HEADER = 'x-ztka-kube-version';
/** UID of the cluster's kube-system namespace: the cluster's identity, bound at registration. */
export const CLUSTER_IDENTITY_HEADER = 'x-ztka-cluster-identity';
/**
 * The namespace where the agent keeps people's service accounts (`--jit-namespace`), so the controller
 * can keep everyone out of it on that cluster (jit-namespace.ts).
 */
export const JIT_NAMESPACE_HEADER = 'x-ztka-jit-namespace';

/** The person a proxied request acts for, as the agent needs it to pick the upstream credential. */
export interface TunnelIdentity {
  user: string;
  /**
   * The person's stable id. Their service account records it, and the agent never hands one person an
   * account recorded as another's (a username can be deleted and taken again).
   */
  userId: string;
  /** The effective role for this cluster (one of ROLES). */
  role: string;
  /** For namespace roles: the namespaces the role applies in. */
  namespaces?: string[];
  /**
   * For NAMESPACE_ADMIN: further namespaces where the person also holds NAMESPACE_READ_ONLY, so both
   * assignments take effect rather than only the higher one.
   */
  readOnlyNamespaces?: string[];
  channel?: string;
  sessionId?: string;
  /** How long the person's just-in-time service account lives after each use (the org's setting). */
  saLifetimeSeconds?: number;
  /**
   * For NAMESPACE_ADMIN, when the org requires it: the Pod Security level the agent labels each of
   * `namespaces` with before it binds the person there (pod-security.ts). Absent: nothing is labelled.
   */
  podSecurity?: PodSecurityLevel;
}

/**
 * A stream the controller opens to tell the agent something rather than to proxy a request: its path is
 * one of CONTROL_PATHS and its body JSON. `revoke` {users: [...]} deletes those people's service accounts
 * at once; `sync` {users: [...], userIds: [...]} deletes every service account whose person is not among
 * them (sent when an agent connects, so one that was offline during a revocation converges; the ids also
 * remove the account of a deleted person whose username has been taken again since). `cancel`
 * {streams: [...]} asks the agent to reset those streams of the same tunnel itself (see CANCEL_GRACE_MS).
 */
export const CONTROL_HEADER = 'x-ztka-control';
export const CONTROL_PATHS = {
  revoke: '/ztka/v1/revoke',
  sync: '/ztka/v1/sync',
  cancel: '/ztka/v1/cancel',
} as const;

/**
 * A request its client abandoned is cancelled in-band on a shared HTTP/2 session (an agent's tunnel, the
 * hop between replicas): the side that cancels names the stream in a message, and the other side resets it.
 * nghttp2 ends a server session that receives about a thousand resets in a burst (its guard against the
 * rapid-reset attack), and every person's requests share these sessions, so a person hanging up on requests
 * fast enough would otherwise cut everyone's. A client session counts no resets. A stream the other side
 * has not reset within this grace is reset after all.
 */
export const CANCEL_GRACE_MS = 5_000;

export function encodeIdentity(identity: TunnelIdentity): string {
  return Buffer.from(JSON.stringify(identity)).toString('base64url');
}

export function decodeIdentity(value: string): TunnelIdentity {
  const parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<TunnelIdentity>;
  if (
    typeof parsed.user !== 'string' ||
    typeof parsed.userId !== 'string' ||
    parsed.userId === '' ||
    typeof parsed.role !== 'string'
  ) {
    throw new Error('tunnel identity lacks user, user id or role');
  }
  // A level this side does not know must not be read as "label nothing": the request fails instead.
  if (parsed.podSecurity !== undefined && !isPodSecurityLevel(parsed.podSecurity))
    throw new Error(`tunnel identity names an unknown Pod Security level ${String(parsed.podSecurity)}`);
  return parsed as TunnelIdentity;
}

/**
 * Headers that describe one connection rather than the request, which neither HTTP/2 nor a proxy may pass
 * on (RFC 9110 §7.6.1), plus those that name the original host.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

/**
 * Tuning shared by both ends of the tunnel. HTTP/2 frames of up to 256 KiB (16 KiB by default) mean fewer
 * TLS records (and, over WebSocket, fewer masks and copies) per megabyte; buffers of 1 MiB between a
 * WebSocket and HTTP/2 keep the pipe full instead of pausing at every 16 KiB.
 */
/**
 * Answers of up to this many bytes (by their Content-Length) travel whole: the agent sends headers and body
 * in one write, and the controller holds them until the request's audit record commits, then sends them
 * to the client in one write. Larger answers stream.
 */
export const WHOLE_ANSWER_LIMIT = 64 << 10;

/**
 * The most header fields, and bytes of them, an answer may carry through the tunnel. The agent answers 502
 * itself for one with more (a pod behind pods/proxy chooses its headers); the controller's and the replicas'
 * sessions take more than this (TUNNEL_TUNING.maxHeaderListPairs), because an answer they refused would be
 * a reset from their side, which counts against the whole shared session (CANCEL_GRACE_MS).
 */
export const ANSWER_HEADER_LIMIT = { pairs: 100, bytes: 16 << 10 } as const;

export const TUNNEL_TUNING = {
  http2: { initialWindowSize: 4 << 20, maxFrameSize: 256 << 10, enablePush: false },
  /** Received header fields a tunnel or peer session takes; above ANSWER_HEADER_LIMIT, under nghttp2's own. */
  maxHeaderListPairs: 256,
  sessionWindowSize: 32 << 20,
  streamBuffer: { readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 },
} as const;
