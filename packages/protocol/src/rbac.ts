// The Kubernetes RBAC that ztka roles map to, shared by the controller (the bootstrap manifest) and the agent
// (which converges each person's just-in-time service account to it).
import type { Role } from './roles.js';

/** The ClusterRole read-only people's just-in-time service accounts are bound to. */
export const READ_ONLY_ROLE = 'ztka-read-only';

const RO = ['get', 'list', 'watch'];

/**
 * Everything but secrets in the core group (no deny rules exist in RBAC, so the readable resources are
 * listed), and every resource of the other groups, read-only. No subresource that runs or opens anything
 * (exec, attach, portforward, proxy) is granted.
 */
export function readOnlyClusterRole(labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: READ_ONLY_ROLE, labels },
    rules: [
      {
        apiGroups: [''],
        resources: [
          'bindings',
          'componentstatuses',
          'configmaps',
          'endpoints',
          'events',
          'limitranges',
          'namespaces',
          'namespaces/status',
          'nodes',
          'nodes/status',
          'persistentvolumeclaims',
          'persistentvolumeclaims/status',
          'persistentvolumes',
          'persistentvolumes/status',
          'pods',
          'pods/log',
          'pods/status',
          'podtemplates',
          'replicationcontrollers',
          'replicationcontrollers/scale',
          'replicationcontrollers/status',
          'resourcequotas',
          'resourcequotas/status',
          'serviceaccounts',
          'services',
          'services/status',
        ],
        verbs: RO,
      },
      {
        apiGroups: [
          'admissionregistration.k8s.io',
          'apiextensions.k8s.io',
          'apiregistration.k8s.io',
          'apps',
          'autoscaling',
          'batch',
          'certificates.k8s.io',
          'coordination.k8s.io',
          'discovery.k8s.io',
          'events.k8s.io',
          'flowcontrol.apiserver.k8s.io',
          'networking.k8s.io',
          'node.k8s.io',
          'policy',
          'rbac.authorization.k8s.io',
          'scheduling.k8s.io',
          'storage.k8s.io',
        ],
        resources: ['*'],
        verbs: RO,
      },
    ],
  };
}

/** One binding a just-in-time service account should have: cluster-wide, or in one namespace. */
export interface JitBinding {
  clusterRole: string;
  /** Absent for a ClusterRoleBinding. */
  namespace?: string;
}

/**
 * The bindings of a role: admin roles → cluster-admin; read-only roles → ztka-read-only, cluster-wide;
 * namespace roles → `admin` / `view` in their namespaces only (plus `view` in extra read-only ones).
 */
export function bindingsFor(
  role: Role,
  namespaces: readonly string[] = [],
  readOnlyNamespaces: readonly string[] = [],
): JitBinding[] {
  switch (role) {
    case 'ADMIN':
    case 'PROJECT_ADMIN':
      return [{ clusterRole: 'cluster-admin' }];
    case 'ADMIN_READ_ONLY':
    case 'PROJECT_READ_ONLY':
      return [{ clusterRole: READ_ONLY_ROLE }];
    case 'NAMESPACE_ADMIN':
      return [
        ...namespaces.map((namespace) => ({ clusterRole: 'admin', namespace })),
        ...readOnlyNamespaces.map((namespace) => ({ clusterRole: 'view', namespace })),
      ];
    case 'NAMESPACE_READ_ONLY':
      return namespaces.map((namespace) => ({ clusterRole: 'view', namespace }));
  }
}
