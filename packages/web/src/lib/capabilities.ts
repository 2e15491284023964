// What the signed-in person may do, derived from their role assignments (their own and their groups'), so
// the console offers only what the API would allow. The API still decides; this only hides what would fail.
import type { Role } from '@ztka/protocol/roles';
import type { RoleAssignment } from './types.js';

export interface Capabilities {
  /** ADMIN: administers users, groups, roles, projects, clusters and settings. */
  orgAdmin: boolean;
  /** ADMIN or ADMIN_READ_ONLY: reads every admin object and the audit trail. */
  orgReader: boolean;
  /** May register and delete clusters in the project (ADMIN, or PROJECT_ADMIN of it). */
  manageClusters(project: string | undefined): boolean;
  /** The projects where the person holds any project or namespace role. */
  projects: ReadonlySet<string>;
}

type Assignment = Pick<RoleAssignment, 'role'> & { project?: string | undefined };

export function capabilitiesOf(assignments: readonly Assignment[]): Capabilities {
  const has = (role: Role) => assignments.some((a) => a.role === role);
  const orgAdmin = has('ADMIN');
  const orgReader = orgAdmin || has('ADMIN_READ_ONLY');
  const projectAdminOf = new Set(
    assignments.filter((a) => a.role === 'PROJECT_ADMIN' && a.project).map((a) => a.project as string),
  );
  const projects = new Set(assignments.flatMap((a) => (a.project ? [a.project] : [])));
  return {
    orgAdmin,
    orgReader,
    manageClusters: (project) => orgAdmin || (project !== undefined && projectAdminOf.has(project)),
    projects,
  };
}

/** The one-line summary of an assignment: `PROJECT_ADMIN in desktop`, `NAMESPACE_ADMIN in p (a, b)`. */
export function describeAssignment(a: Assignment & { namespaces?: string[] | undefined }): string {
  let text: string = a.role;
  if (a.project) text += ` in ${a.project}`;
  if (a.namespaces && a.namespaces.length > 0) text += ` (${a.namespaces.join(', ')})`;
  return text;
}
