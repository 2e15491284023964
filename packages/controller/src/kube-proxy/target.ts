import type { IncomingMessage } from 'node:http';
import {
  AUDIT_ID_HEADER,
  CLUSTER_PROXY_PREFIX,
  IDENTITY_HEADER,
  ZtkaError,
  encodeIdentity,
  forwardableHeaders,
  isDnsLabel,
  parseKubeRequest,
  protectedNamespaces,
  type KubeRequest,
  type TunnelIdentity,
} from '@ztka/protocol';
import type { OutgoingHttpHeaders } from 'node:http';
import { guardKubeRequest, guardProtectedNamespaces } from '../access/kube-guard.js';
import type { RequestLimits } from '../access/request-limits.js';
import type { ApiRecord } from '../audit/record.js';
import type { RequestContext } from './audit.js';
import type { Principal } from '../auth/credentials.js';
import type { TunnelRoute } from '../tunnel/route.js';

export interface KubeProxyDeps {
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
  /**
   * Watches a request in flight: `end` is called, with the reason to record, if after a change (a
   * revocation, a lost role) the request would no longer be allowed as it was, or when the credential that
   * opened it expires. Returns the function to call when the request is over.
   */
  track(target: ProxyTarget, end: (reason: string) => void): () => void;
  /** Commits an audit record; the proxy awaits it before the response completes. */
  audit(record: ApiRecord): Promise<void>;
  /** Rate limits per person and, for requests without a valid credential, per address. */
  limits: Pick<RequestLimits, 'person' | 'anonymous'>;
}

/** A kube request resolved to the tunnel it will travel and everything audit needs to know about it. */
export interface ProxyTarget {
  auditId: string;
  cluster: string;
  principal: Principal;
  identity: TunnelIdentity;
  kube: KubeRequest;
  method: string;
  route: TunnelRoute;
  /** Path and query below the cluster prefix, as the apiserver will see them. */
  upstreamPath: string;
  headers: OutgoingHttpHeaders;
}

/**
 * Everything that happens before a request may travel: route, authenticate, find the cluster's tunnel and
 * parse the kube request once. Throws a ZtkaError whose message is safe to show the caller; a caller without
 * a valid credential learns nothing about which clusters exist.
 */
export async function resolveTarget(
  req: IncomingMessage,
  deps: KubeProxyDeps,
  ctx: RequestContext,
): Promise<ProxyTarget> {
  const url = ctx.url;
  const rest = url.pathname.slice(CLUSTER_PROXY_PREFIX.length);
  const slash = rest.indexOf('/');
  const cluster = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '/' : rest.slice(slash);
  ctx.cluster = cluster.slice(0, 253);

  const principal = await deps.authenticate(req);
  if (!principal) {
    await deps.limits.anonymous(req.socket.remoteAddress ?? '');
    throw new ZtkaError('unauthorized', 'Unauthorized: a valid ztka credential is required');
  }
  ctx.principal = principal;
  await deps.limits.person(principal.userId);
  if (!isDnsLabel(cluster)) throw new ZtkaError('not_found', `unknown cluster "${cluster.slice(0, 64)}"`);
  const identity = await deps.authorize(principal, cluster);
  ctx.identity = identity;

  let kube: KubeRequest;
  try {
    kube = parseKubeRequest(req.method ?? 'GET', path, url.searchParams);
  } catch (err) {
    throw new ZtkaError('bad_request', err instanceof Error ? err.message : 'malformed kube API path', {
      cause: err,
    });
  }

  ctx.kube = kube;
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

  const auditId = ctx.auditId;
  const headers: OutgoingHttpHeaders = forwardableHeaders(req.headers, { dropCredentials: true });
  headers[AUDIT_ID_HEADER] = auditId;
  headers[IDENTITY_HEADER] = encodeIdentity(identity);
  return {
    auditId,
    cluster,
    principal,
    identity,
    kube,
    method: req.method ?? 'GET',
    route,
    upstreamPath: path + url.search,
    headers,
  };
}
