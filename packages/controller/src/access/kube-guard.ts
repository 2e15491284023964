// Defense in depth on the proxy path: requests a role can never be allowed are refused here, before the
// cluster is asked. The cluster's RBAC (the JIT service account's bindings) stays the authority; this
// layer keeps a read-only or namespace-scoped person inside their lane even if a binding in the cluster
// were wider than it should be.
import {
  NAMESPACE_ROLES,
  READ_ONLY_ROLES,
  ZtkaError,
  isRole,
  protectedNamespaceReached,
  type KubeRequest,
  type TunnelIdentity,
} from '@ztka/protocol';

const READ_VERBS = new Set(['get', 'list', 'watch']);
/** Subresources that run code or open connections inside the cluster. */
const INTERACTIVE = new Set(['exec', 'attach', 'portforward', 'proxy']);
/** Reviews every identity may create about itself: `kubectl auth can-i` and `kubectl auth whoami`. */
const SELF_REVIEWS = new Set(['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'selfsubjectreviews']);

function forbidden(identity: TunnelIdentity, kube: KubeRequest, why: string): ZtkaError {
  const plural = kube.resource ?? '';
  const resource = kube.subresource ? `${plural}/${kube.subresource}` : plural;
  const where = kube.namespace ? ` in the namespace "${kube.namespace}"` : ' at the cluster scope';
  const what = kube.name ? `${plural} "${kube.name}"` : plural;
  return new ZtkaError(
    'forbidden',
    `${what} is forbidden: User "${identity.user}" cannot ${kube.verb} resource "${resource}"${where}: ${why}`,
  );
}

/**
 * Throws a `Forbidden` ZtkaError when the request names a namespace that holds ztka's just-in-time service
 * accounts (`protect`, from protectedNamespaces()): no role reaches it, org admins included, since acting
 * there mints anyone's token. Unlike the role guard, the cluster's RBAC would allow this to cluster admins.
 */
export function guardProtectedNamespaces(
  identity: TunnelIdentity,
  kube: KubeRequest,
  query: URLSearchParams,
  protect: ReadonlySet<string>,
): void {
  const namespace = protectedNamespaceReached(kube, query, protect);
  if (namespace === undefined) return;
  throw forbidden(
    identity,
    kube,
    `the namespace "${namespace}" holds ztka's just-in-time service accounts, which only the ztka agent manages`,
  );
}

/** Throws a `Forbidden` ZtkaError when the effective role can never make this request. */
export function guardKubeRequest(identity: TunnelIdentity, kube: KubeRequest): void {
  const role = identity.role;
  if (!isRole(role)) throw new ZtkaError('forbidden', `Forbidden: unknown role ${role}`);
  if (!kube.isResourceRequest) {
    // Discovery, /version, /openapi: reading is what every kubectl needs first.
    if (READ_ONLY_ROLES.has(role) && kube.verb !== 'get' && kube.verb !== 'head')
      throw new ZtkaError('forbidden', `Forbidden: ${role} may only read`);
    return;
  }
  if (SELF_REVIEWS.has(kube.resource ?? '') && kube.verb === 'create') return;

  let readOnly = READ_ONLY_ROLES.has(role);
  if (NAMESPACE_ROLES.has(role)) {
    const ns = kube.namespace;
    const own = identity.namespaces ?? [];
    const extra = identity.readOnlyNamespaces ?? [];
    if (!ns || (!own.includes(ns) && !extra.includes(ns)))
      throw forbidden(
        identity,
        kube,
        `${role} applies only in ${[...own, ...extra].join(', ') || 'no namespace'}`,
      );
    if (!own.includes(ns)) readOnly = true;
    // The namespace object is the cluster admin's, not the namespace admin's: its labels set the Pod
    // Security level that keeps privileged pods out (the `admin` ClusterRole only reads it, too).
    if (kube.apiGroup === '' && kube.resource === 'namespaces' && !READ_VERBS.has(kube.verb))
      throw forbidden(identity, kube, `${role} cannot change the namespace itself, its labels included`);
  }
  if (!readOnly) return;
  if (kube.resource === 'secrets') throw forbidden(identity, kube, 'read-only roles cannot read secrets');
  if (kube.subresource && INTERACTIVE.has(kube.subresource))
    throw forbidden(identity, kube, 'read-only roles cannot exec, attach, port-forward or proxy');
  if (!READ_VERBS.has(kube.verb)) throw forbidden(identity, kube, 'the role is read-only');
}
