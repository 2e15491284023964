/**
 * The roles a person can hold, highest privilege first. The order is the tie-break when several apply to
 * one cluster: the first that applies wins. What each means on a cluster (the agent's RBAC mapping):
 * admin roles → cluster-admin; read-only roles → the ztka-read-only ClusterRole; namespace roles → the
 * `admin` / `view` ClusterRoles bound in the listed namespaces only.
 */
export const ROLES = [
  'ADMIN',
  'PROJECT_ADMIN',
  'ADMIN_READ_ONLY',
  'PROJECT_READ_ONLY',
  'NAMESPACE_ADMIN',
  'NAMESPACE_READ_ONLY',
] as const;

export type Role = (typeof ROLES)[number];

export const ORG_ROLES: ReadonlySet<Role> = new Set(['ADMIN', 'ADMIN_READ_ONLY']);
export const NAMESPACE_ROLES: ReadonlySet<Role> = new Set(['NAMESPACE_ADMIN', 'NAMESPACE_READ_ONLY']);
export const READ_ONLY_ROLES: ReadonlySet<Role> = new Set([
  'ADMIN_READ_ONLY',
  'PROJECT_READ_ONLY',
  'NAMESPACE_READ_ONLY',
]);

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Which way a person's kubectl traffic arrives: their own kubectl, or the console's browser shell. */
export type Channel = 'cli' | 'web-shell';
