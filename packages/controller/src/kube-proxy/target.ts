import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  AUDIT_ID_HEADER,
  CLUSTER_PROXY_PREFIX,
  IDENTITY_HEADER,
  ZtkaError,
  encodeIdentity,
  forwardableHeaders,
  parseKubeRequest,
  type KubeRequest,
  type TunnelIdentity,
} from '@ztka/protocol';
import type { OutgoingHttpHeaders } from 'node:http';
import type { AgentSession, TunnelRegistry } from '../tunnel/session.js';

export interface KubeProxyDeps {
  tunnels: TunnelRegistry;
  /** Who is asking, or undefined when the request carries no valid credential. */
  authenticate(req: IncomingMessage): Promise<TunnelIdentity | undefined>;
  /** Whether a cluster of this name is registered (connected or not). */
  clusterExists(name: string): Promise<boolean>;
}

/** A kube request resolved to the tunnel it will travel and everything audit needs to know about it. */
export interface ProxyTarget {
  auditId: string;
  cluster: string;
  identity: TunnelIdentity;
  kube: KubeRequest;
  method: string;
  session: AgentSession;
  /** Path and query below the cluster prefix, as the apiserver will see them. */
  upstreamPath: string;
  headers: OutgoingHttpHeaders;
}

const CLUSTER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Everything that happens before a request may travel: route, authenticate, find the cluster's tunnel and
 * parse the kube request once. Throws a ZtkaError whose message is safe to show the caller; a caller without
 * a valid credential learns nothing about which clusters exist.
 */
export async function resolveTarget(req: IncomingMessage, deps: KubeProxyDeps): Promise<ProxyTarget> {
  const url = new URL(req.url ?? '/', 'https://controller.invalid');
  const rest = url.pathname.slice(CLUSTER_PROXY_PREFIX.length);
  const slash = rest.indexOf('/');
  const cluster = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '/' : rest.slice(slash);

  const identity = await deps.authenticate(req);
  if (!identity) throw new ZtkaError('unauthorized', 'Unauthorized: a valid ztka credential is required');
  if (!CLUSTER_NAME.test(cluster))
    throw new ZtkaError('not_found', `unknown cluster "${cluster.slice(0, 64)}"`);

  let kube: KubeRequest;
  try {
    kube = parseKubeRequest(req.method ?? 'GET', path, url.searchParams);
  } catch (err) {
    throw new ZtkaError('bad_request', err instanceof Error ? err.message : 'malformed kube API path', {
      cause: err,
    });
  }

  const session = deps.tunnels.get(cluster);
  if (!session) {
    if (await deps.clusterExists(cluster)) {
      throw new ZtkaError(
        'cluster_unavailable',
        `cluster ${cluster} is not connected: its agent has no tunnel open`,
      );
    }
    throw new ZtkaError('not_found', `unknown cluster "${cluster}"`);
  }

  const auditId = randomUUID();
  const headers: OutgoingHttpHeaders = forwardableHeaders(req.headers, { dropCredentials: true });
  headers[AUDIT_ID_HEADER] = auditId;
  headers[IDENTITY_HEADER] = encodeIdentity(identity);
  return {
    auditId,
    cluster,
    identity,
    kube,
    method: req.method ?? 'GET',
    session,
    upstreamPath: path + url.search,
    headers,
  };
}
