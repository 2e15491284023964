// One kube request on its way through the proxy. Its URL is parsed once on arrival and its kube request
// once after authentication; what is learnt while resolving it (who asks, as which role, what it is, which
// tunnel it travels) is set on the same object, which authorization, forwarding, audit and metrics all read.
// A request refused part-way keeps what was learnt, for its record.
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import {
  AUDIT_ID_HEADER,
  CLUSTER_PROXY_PREFIX,
  IDENTITY_HEADER,
  KUBE_REQUEST_HEADER,
  ZtkaError,
  encodeIdentity,
  encodeKubeRequestHeader,
  forwardableHeaders,
  isDnsLabel,
  parseKubeRequest,
  protectedNamespaces,
  type KubeRequest,
  type TunnelIdentity,
} from '@ztka/protocol';
import { guardKubeRequest, guardProtectedNamespaces } from '../access/kube-guard.js';
import type { RequestLimits } from '../access/request-limits.js';
import type { Principal } from '../auth/credentials.js';
import type { TunnelRoute } from '../tunnel/route.js';

/** A kube request as far as it is known: whatever is set when it ends goes into its record. */
export interface ProxyRequest {
  readonly incoming: IncomingMessage;
  readonly auditId: string;
  /** Arrival, in ms since the epoch. */
  readonly at: number;
  readonly method: string;
  /** The request URL, parsed once for routing, the kube request and the record. */
  readonly url: URL;
  cluster: string;
  principal?: Principal;
  identity?: TunnelIdentity;
  kube?: KubeRequest;
}

/** A request cleared to travel: everything about it is known. */
export interface ResolvedRequest extends ProxyRequest {
  principal: Principal;
  identity: TunnelIdentity;
  kube: KubeRequest;
  route: TunnelRoute;
  /** Path and query below the cluster prefix, as the apiserver will see them. */
  upstreamPath: string;
  /** What travels to the agent: the client's forwardable headers and the tunnel's own. */
  headers: OutgoingHttpHeaders;
}

/** What resolving a request needs from the rest of the controller. */
export interface RequestResolvers {
  /** The way to the cluster's agent, wherever its tunnel is; undefined while no replica holds one. */
  route(cluster: string): Promise<TunnelRoute | undefined>;
  /** Whether a cluster without a route is expected back within seconds (its agent redialling). */
  reconnecting(cluster: string): Promise<boolean>;
  /** Who is asking, or undefined when the request carries no valid kube credential. */
  authenticate(req: IncomingMessage): Promise<Principal | undefined>;
  /**
   * Whether the principal may reach this cluster now, and as which role: throws a ZtkaError (403 for a
   * cluster outside their projects, whether it exists or not).
   */
  authorize(principal: Principal, cluster: string): Promise<TunnelIdentity>;
  /** Rate limits per person and, for requests without a valid credential, per address. */
  limits: Pick<RequestLimits, 'person' | 'anonymous'>;
}

export function newRequest(incoming: IncomingMessage): ProxyRequest {
  return {
    incoming,
    auditId: randomUUID(),
    at: Date.now(),
    method: incoming.method ?? 'GET',
    url: new URL(incoming.url ?? '/', 'https://controller.invalid'),
    cluster: '',
  };
}

/**
 * Everything that happens before a request may travel: route, authenticate, find the cluster's tunnel and
 * parse the kube request once. Throws a ZtkaError whose message is safe to show the caller; a caller without
 * a valid credential learns nothing about which clusters exist.
 */
export async function resolveRequest(
  request: ProxyRequest,
  deps: RequestResolvers,
): Promise<ResolvedRequest> {
  const { incoming, url } = request;
  const rest = url.pathname.slice(CLUSTER_PROXY_PREFIX.length);
  const slash = rest.indexOf('/');
  const cluster = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '/' : rest.slice(slash);
  request.cluster = cluster.slice(0, 253);

  const principal = await deps.authenticate(incoming);
  if (!principal) {
    await deps.limits.anonymous(incoming.socket.remoteAddress ?? '');
    throw new ZtkaError('unauthorized', 'Unauthorized: a valid ztka credential is required');
  }
  request.principal = principal;
  await deps.limits.person(principal.userId);
  if (!isDnsLabel(cluster)) throw new ZtkaError('not_found', `unknown cluster "${cluster.slice(0, 64)}"`);
  const identity = await deps.authorize(principal, cluster);
  request.identity = identity;

  let kube: KubeRequest;
  try {
    kube = parseKubeRequest(request.method, path, url.searchParams);
  } catch (err) {
    throw new ZtkaError('bad_request', err instanceof Error ? err.message : 'malformed kube API path', {
      cause: err,
    });
  }

  request.kube = kube;
  guardKubeRequest(identity, kube);

  // authorize() has established that the cluster exists and that the caller may know it.
  const route = await deps.route(cluster);
  guardProtectedNamespaces(identity, kube, url.searchParams, protectedNamespaces(route?.jitNamespace));
  if (!route) {
    // Moving between replicas or back from a restart, the tunnel returns in a second or two: kubectl is
    // told to retry. A cluster that has been away longer is simply not connected.
    if (await deps.reconnecting(cluster))
      throw new ZtkaError('cluster_unavailable', `cluster ${cluster} is reconnecting its tunnel; retry`, {
        retryAfterSeconds: 1,
      });
    throw new ZtkaError(
      'cluster_unavailable',
      `cluster ${cluster} is not connected: its agent has no tunnel open`,
    );
  }

  const headers: OutgoingHttpHeaders = forwardableHeaders(incoming.headers, { dropCredentials: true });
  headers[AUDIT_ID_HEADER] = request.auditId;
  headers[IDENTITY_HEADER] = encodeIdentity(identity);
  // The agent checks that it reads the path as this parse did: what was authorized and recorded is what runs.
  headers[KUBE_REQUEST_HEADER] = encodeKubeRequestHeader(kube);
  return Object.assign(request, {
    principal,
    identity,
    kube,
    route,
    upstreamPath: path + url.search,
    headers,
  });
}

/** Opens the request's stream through its tunnel, with the tunnel's headers and any `extra` ones. */
export function openUpstream(
  request: ResolvedRequest,
  extra: Record<string, string> = {},
): http2.ClientHttp2Stream {
  return request.route.open({
    ...request.headers,
    ...extra,
    [http2.constants.HTTP2_HEADER_METHOD]: request.method,
    [http2.constants.HTTP2_HEADER_PATH]: request.upstreamPath,
  });
}
