// Which role a person holds on a cluster, from all their assignments (their own and their groups').
// Pure: the store loads the assignments, this decides. One place, used by the proxy, the API and the console.
import { NAMESPACE_ROLES, ORG_ROLES, ROLES, type Role } from '@ztka/protocol';

export interface Assignment {
  role: Role;
  /** Null for org-wide roles. */
  projectId: string | null;
  namespaces: readonly string[];
}

export interface EffectiveAccess {
  role: Role;
  /** For namespace roles: where the role applies. */
  namespaces?: string[];
  /** For NAMESPACE_ADMIN: namespaces where the person also holds NAMESPACE_READ_ONLY. */
  readOnlyNamespaces?: string[];
}

const rank = (role: Role) => ROLES.indexOf(role);

/** Whether the assignment reaches clusters of `projectId`. */
export function appliesTo(a: Assignment, projectId: string): boolean {
  return ORG_ROLES.has(a.role) || a.projectId === projectId;
}

/**
 * The highest-privilege role that applies to a cluster of `projectId`, or undefined when none does.
 * Namespace roles merge: two NAMESPACE_ADMIN assignments give admin in both lists; NAMESPACE_ADMIN plus
 * NAMESPACE_READ_ONLY keeps the read-only namespaces the admin ones do not already cover.
 */
export function effectiveAccess(
  assignments: readonly Assignment[],
  projectId: string,
): EffectiveAccess | undefined {
  const applicable = assignments.filter((a) => appliesTo(a, projectId));
  if (applicable.length === 0) return undefined;
  const best = applicable.reduce((a, b) => (rank(b.role) < rank(a.role) ? b : a));
  if (!NAMESPACE_ROLES.has(best.role)) return { role: best.role };

  const collect = (role: Role) =>
    [...new Set(applicable.filter((a) => a.role === role).flatMap((a) => a.namespaces))].sort();
  const namespaces = collect(best.role);
  if (best.role === 'NAMESPACE_READ_ONLY') return { role: best.role, namespaces };
  const readOnly = collect('NAMESPACE_READ_ONLY').filter((ns) => !namespaces.includes(ns));
  return readOnly.length > 0
    ? { role: best.role, namespaces, readOnlyNamespaces: readOnly }
    : { role: best.role, namespaces };
}

/** What a person may do through the REST API, derived from the same assignments. */
export interface ApiPowers {
  /** ADMIN: users, groups, roles, projects, settings, every cluster. */
  orgAdmin: boolean;
  /** ADMIN or ADMIN_READ_ONLY: may read every admin object. */
  orgReader: boolean;
  /** Projects where the person may create and delete clusters (PROJECT_ADMIN). */
  adminProjects: ReadonlySet<string>;
  /** Projects where the person holds any role (null = all, for org-wide roles). */
  visibleProjects: ReadonlySet<string> | null;
}

export function apiPowers(assignments: readonly Assignment[]): ApiPowers {
  const orgAdmin = assignments.some((a) => a.role === 'ADMIN');
  const orgReader = orgAdmin || assignments.some((a) => a.role === 'ADMIN_READ_ONLY');
  const projectIds = (pred: (a: Assignment) => boolean) =>
    new Set(assignments.filter(pred).flatMap((a) => (a.projectId === null ? [] : [a.projectId])));
  return {
    orgAdmin,
    orgReader,
    adminProjects: projectIds((a) => a.role === 'PROJECT_ADMIN'),
    visibleProjects: orgReader ? null : projectIds(() => true),
  };
}

export function canSeeProject(powers: ApiPowers, projectId: string): boolean {
  return powers.visibleProjects === null || powers.visibleProjects.has(projectId);
}

export function canManageClusters(powers: ApiPowers, projectId: string): boolean {
  return powers.orgAdmin || powers.adminProjects.has(projectId);
}
