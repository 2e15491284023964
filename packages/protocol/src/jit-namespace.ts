/**
 * The JIT namespace holds every person's just-in-time service account, the org admins' cluster-admin ones
 * among them, and in a cluster the agent itself. Whoever may act in it can mint any of those tokens, so no
 * person reaches it through ztka, whatever their role: the controller refuses such requests, and the agent
 * refuses them again (defence in depth). Only the agent, with its own credential, manages it.
 *
 * `ztka-system` is protected on every cluster; an agent started with `--jit-namespace` reports its own
 * (JIT_NAMESPACE_HEADER), which is protected on that cluster too. Requests across all namespaces (`get
 * pods -A`) stay for the cluster's RBAC to decide; what is refused is naming the namespace: in the path,
 * as the namespace object, in a field selector, or in a node proxy path to the kubelet.
 */
import { SYSTEM_NAMESPACE } from './constants.js';
import { fieldSelectorValue, KubeRequestError, type KubeRequest } from './kube-request.js';

/** The namespaces no request may reach on a cluster whose agent keeps its accounts in `jitNamespace`. */
export function protectedNamespaces(jitNamespace?: string): ReadonlySet<string> {
  return new Set(jitNamespace ? [SYSTEM_NAMESPACE, jitNamespace] : [SYSTEM_NAMESPACE]);
}

/** Returns the protected namespace the request names, or undefined if it names none of them. */
export function protectedNamespaceReached(
  kube: KubeRequest,
  query: URLSearchParams,
  protect: ReadonlySet<string>,
): string | undefined {
  if (!kube.isResourceRequest) return undefined;
  // A namespaced path, and `namespaces/<ns>` itself (the parser sets both name and namespace for it).
  if (kube.namespace !== undefined) return protect.has(kube.namespace) ? kube.namespace : undefined;
  const isNamespaces = kube.resource === 'namespaces' && kube.apiGroup === '';
  if (isNamespaces && kube.name !== undefined && protect.has(kube.name)) return kube.name;

  let selected: { namespace?: string | undefined; name?: string | undefined };
  try {
    selected = {
      namespace: fieldSelectorValue(query, 'metadata.namespace'),
      name: isNamespaces ? fieldSelectorValue(query, 'metadata.name') : undefined,
    };
  } catch (err) {
    // A selector the apiserver and we might read differently: refused rather than guessed at.
    if (err instanceof KubeRequestError) return [...protect][0] ?? SYSTEM_NAMESPACE;
    throw err;
  }
  for (const value of [selected.namespace, selected.name])
    if (value !== undefined && protect.has(value)) return value;

  // The kubelet's API under nodes/<node>/proxy takes namespaces in its paths (/exec/<ns>/<pod>/…,
  // /run/…, /attach/…, /portForward/…, /containerLogs/…).
  if (kube.resource === 'nodes' && (kube.verb === 'proxy' || kube.subresource === 'proxy'))
    for (const raw of kube.path.split('/')) {
      let segment: string;
      try {
        segment = decodeURIComponent(raw);
      } catch {
        return [...protect][0] ?? SYSTEM_NAMESPACE;
      }
      if (protect.has(segment)) return segment;
    }
  return undefined;
}
