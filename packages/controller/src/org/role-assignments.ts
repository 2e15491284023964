// Role assignments: a user or a group holds a role, org-wide or in one project (and, for namespace roles, in
// listed namespaces). Adding, removing or changing one announces which users it touches.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { NAMESPACE_ROLES, ORG_ROLES, SYSTEM_NAMESPACE, ZtkaError, isRole, type Role } from '@ztka/protocol';
import type { Assignment } from '../access/effective.js';
import type { Database } from '../store/schema.js';
import type { ChangeFeed } from './changes.js';
import { checkLabel, isUniqueViolation } from './names.js';

export type Subject = { userId: string; groupId?: never } | { groupId: string; userId?: never };

export interface AssignmentView {
  id: string;
  role: Role;
  user?: string;
  group?: string;
  project?: string;
  namespaces?: string[];
  createdAt: string;
}

/**
 * A namespace holding ztka's just-in-time service accounts is out of every role's reach (acting there mints
 * anyone's token, an org admin's cluster-admin one included), so no assignment may name it.
 */
function jitNamespaceRefused(namespace: string, index: number, cluster?: string): ZtkaError {
  const where = cluster === undefined ? 'every cluster' : `cluster ${JSON.stringify(cluster)}`;
  return new ZtkaError(
    'bad_request',
    `namespace ${JSON.stringify(namespace)} holds ztka's just-in-time service accounts on ${where}; ` +
      `no role may be assigned in it`,
    { field: `/namespaces/${index}` },
  );
}

/** Checks that the role, project and namespaces fit together; returns the namespaces sorted and unique. */
export function checkAssignment(
  role: string,
  hasProject: boolean,
  namespaces: readonly string[] | undefined,
): string[] {
  if (!isRole(role))
    throw new ZtkaError('bad_request', `unknown role ${JSON.stringify(role)}`, { field: '/role' });
  if (ORG_ROLES.has(role) && hasProject)
    throw new ZtkaError('bad_request', `${role} is org-wide and takes no project`, { field: '/project' });
  if (!ORG_ROLES.has(role) && !hasProject)
    throw new ZtkaError('bad_request', `${role} needs a project`, { field: '/project' });
  if (NAMESPACE_ROLES.has(role)) {
    if (!namespaces || namespaces.length === 0)
      throw new ZtkaError('bad_request', `${role} needs at least one namespace`, { field: '/namespaces' });
    namespaces.forEach((ns, i) => {
      checkLabel('namespace', ns, `/namespaces/${i}`);
      if (ns === SYSTEM_NAMESPACE) throw jitNamespaceRefused(ns, i);
    });
    return [...new Set(namespaces)].sort();
  }
  if (namespaces && namespaces.length > 0)
    throw new ZtkaError('bad_request', `${role} applies to whole clusters and takes no namespaces`, {
      field: '/namespaces',
    });
  return [];
}

export class RoleAssignments {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangeFeed,
    private readonly clock: () => number = Date.now,
  ) {}

  async assign(
    orgId: string,
    subject: Subject,
    role: string,
    projectId: string | null,
    namespaces: readonly string[] | undefined,
  ): Promise<string> {
    const sorted = checkAssignment(role, projectId !== null, namespaces);
    if (projectId !== null && namespaces) await this.#refuseJitNamespaces(projectId, namespaces);
    const id = randomUUID();
    try {
      // The unique index (migration 003, over coalesced columns) decides, so concurrent requests on
      // PostgreSQL cannot both insert the same assignment.
      await this.db
        .insertInto('role_assignments')
        .values({
          id,
          org_id: orgId,
          user_id: subject.userId ?? null,
          group_id: subject.groupId ?? null,
          role,
          project_id: projectId,
          namespaces: sorted.join(','),
          created_at: this.clock(),
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new ZtkaError('conflict', 'this role assignment already exists', { field: '/role' });
      throw err;
    }
    await this.#announce(subject);
    return id;
  }

  async revoke(orgId: string, id: string): Promise<void> {
    const row = await this.db
      .selectFrom('role_assignments')
      .select(['user_id', 'group_id'])
      .where('id', '=', id)
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    if (!row) throw new ZtkaError('not_found', `role assignment ${JSON.stringify(id)} not found`);
    await this.db.deleteFrom('role_assignments').where('id', '=', id).execute();
    await this.#announce(row.user_id ? { userId: row.user_id } : { groupId: row.group_id ?? '' });
  }

  /** Every assignment that applies to the user: their own and their groups'. The proxy's hot path. */
  async forUser(userId: string): Promise<Assignment[]> {
    const rows = await this.db
      .selectFrom('role_assignments')
      .select(['role', 'project_id', 'namespaces'])
      .where((eb) =>
        eb.or([
          eb('user_id', '=', userId),
          eb(
            'group_id',
            'in',
            eb.selectFrom('group_members').select('group_id').where('user_id', '=', userId),
          ),
        ]),
      )
      .execute();
    return rows.flatMap((r) =>
      isRole(r.role)
        ? [
            {
              role: r.role,
              projectId: r.project_id,
              namespaces: r.namespaces === '' ? [] : r.namespaces.split(','),
            },
          ]
        : [],
    );
  }

  /** Assignments held directly by a user or a group (not inherited), or all of the org's. */
  async list(orgId: string, filter: { userId?: string; groupId?: string }): Promise<AssignmentView[]> {
    let query = this.db
      .selectFrom('role_assignments')
      .leftJoin('users', 'users.id', 'role_assignments.user_id')
      .leftJoin('groups', 'groups.id', 'role_assignments.group_id')
      .leftJoin('projects', 'projects.id', 'role_assignments.project_id')
      .select([
        'role_assignments.id as id',
        'role_assignments.role as role',
        'users.username as user',
        'groups.name as group',
        'projects.name as project',
        'role_assignments.namespaces as namespaces',
        'role_assignments.created_at as createdAt',
      ])
      .where('role_assignments.org_id', '=', orgId);
    if (filter.userId !== undefined) query = query.where('role_assignments.user_id', '=', filter.userId);
    if (filter.groupId !== undefined) query = query.where('role_assignments.group_id', '=', filter.groupId);
    const rows = await query.orderBy('role_assignments.created_at').orderBy('role_assignments.id').execute();
    return rows.flatMap((r) => {
      if (!isRole(r.role)) return [];
      const view: AssignmentView = {
        id: r.id,
        role: r.role,
        createdAt: new Date(Number(r.createdAt)).toISOString(),
      };
      if (r.user) view.user = r.user;
      if (r.group) view.group = r.group;
      if (r.project) view.project = r.project;
      if (r.namespaces) view.namespaces = r.namespaces.split(',');
      return [view];
    });
  }

  /** Refuses the JIT namespaces the project's agents have reported (other than ztka-system, always refused). */
  async #refuseJitNamespaces(projectId: string, namespaces: readonly string[]): Promise<void> {
    if (namespaces.length === 0) return;
    const taken = await this.db
      .selectFrom('clusters')
      .select(['name', 'jit_namespace'])
      .where('project_id', '=', projectId)
      .where('jit_namespace', 'in', [...namespaces])
      .orderBy('name')
      .executeTakeFirst();
    if (!taken?.jit_namespace) return;
    throw jitNamespaceRefused(taken.jit_namespace, namespaces.indexOf(taken.jit_namespace), taken.name);
  }

  async #announce(subject: Subject): Promise<void> {
    if (subject.userId) return this.changes.emit({ kind: 'assignments', userIds: [subject.userId] });
    const members = await this.db
      .selectFrom('group_members')
      .select('user_id')
      .where('group_id', '=', subject.groupId ?? '')
      .execute();
    this.changes.emit({ kind: 'assignments', userIds: members.map((m) => m.user_id) });
  }
}
