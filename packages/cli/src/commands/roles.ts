// roles list|assign|revoke. The API deletes assignments by id; revoke finds the ids from what the user
// typed (subject, role, project, namespaces), so nobody has to look ids up first.
import type { Command } from 'commander';
import { NAMESPACE_ROLES, ORG_ROLES, ROLES, type Role } from '@ztka/protocol';
import { describeAssignment, type RoleAssignment } from '../api.js';
import type { Client } from '../client.js';
import { CliError, UsageError } from '../errors.js';
import { cell, outputOption, printList, write, type OutputFormat } from '../output.js';
import { connect, seg, serverOption } from '../session.js';

type Subject = { user: string } | { group: string };

interface SubjectOptions {
  user?: string;
  group?: string;
}

interface GrantOptions extends SubjectOptions {
  role: string;
  project?: string;
  namespaces?: string;
  server?: string;
}

function subjectOf(opts: SubjectOptions): Subject | undefined {
  if (opts.user !== undefined && opts.group !== undefined)
    throw new UsageError('give --user or --group, not both');
  if (opts.user !== undefined) return { user: opts.user };
  if (opts.group !== undefined) return { group: opts.group };
  return undefined;
}

function requireSubject(opts: SubjectOptions): Subject {
  const subject = subjectOf(opts);
  if (subject === undefined) throw new UsageError('give --user USER or --group GROUP');
  return subject;
}

function describeSubject(subject: Subject): string {
  return 'user' in subject ? `user ${subject.user}` : `group ${subject.group}`;
}

export function parseRole(text: string): Role {
  const role = ROLES.find((r) => r === text.toUpperCase());
  if (role === undefined) throw new UsageError(`unknown role "${text}": use one of ${ROLES.join(', ')}`);
  return role;
}

export function parseNamespaces(text: string): string[] {
  const namespaces = text
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (namespaces.length === 0) throw new UsageError('--namespaces needs at least one namespace');
  return namespaces;
}

interface Grant {
  role: Role;
  project?: string;
  namespaces?: string[];
}

/**
 * The role and its scope, checked against the table in docs/api.md so mistakes fail before any request.
 * For revoke, namespaces are optional on namespace roles: they only narrow which assignments match.
 */
export function grantOf(
  opts: { role: string; project?: string; namespaces?: string },
  namespacesOptional = false,
): Grant {
  const role = parseRole(opts.role);
  const grant: Grant = { role };
  const orgRole = ORG_ROLES.has(role);
  const namespaceRole = NAMESPACE_ROLES.has(role);
  if (orgRole && opts.project !== undefined)
    throw new UsageError(`${role} is org-wide: it takes no --project`);
  if (!orgRole && opts.project === undefined) throw new UsageError(`${role} needs --project`);
  if (!namespaceRole && opts.namespaces !== undefined) throw new UsageError(`${role} takes no --namespaces`);
  if (namespaceRole && !namespacesOptional && opts.namespaces === undefined)
    throw new UsageError(`${role} needs --namespaces`);
  if (opts.project !== undefined) grant.project = opts.project;
  if (opts.namespaces !== undefined) grant.namespaces = parseNamespaces(opts.namespaces);
  return grant;
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((x) => right.has(x));
};

/** The subject's own assignments matching the grant; namespaces only narrow when given. */
export function matchingAssignments(
  assignments: readonly RoleAssignment[],
  subject: Subject,
  grant: Grant,
): RoleAssignment[] {
  return assignments.filter((a) => {
    // A user's list may include what their groups hold; revoking those would change the whole group.
    const own =
      'user' in subject
        ? a.group === undefined &&
          (a.user === undefined || a.user.toLowerCase() === subject.user.toLowerCase())
        : a.user === undefined && a.group === subject.group;
    return (
      own &&
      a.role.toUpperCase() === grant.role &&
      (a.project ?? undefined) === grant.project &&
      (grant.namespaces === undefined || sameSet(a.namespaces ?? [], grant.namespaces))
    );
  });
}

function listAssignments(client: Client, subject: Subject | undefined): Promise<RoleAssignment[]> {
  const query =
    subject === undefined ? {} : 'user' in subject ? { user: subject.user } : { group: subject.group };
  return client.listAll<RoleAssignment>('/v1/role-assignments', query);
}

export function registerRoles(program: Command): void {
  const roles = program.command('roles').description('list, assign and revoke role assignments');
  const roleHelp = `one of ${ROLES.join(', ')} (any case)`;

  roles
    .command('list')
    .description('list role assignments, all of them or one subject’s')
    .option('--user <username>', 'only this user’s assignments')
    .option('--group <group>', 'only this group’s assignments')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (opts: SubjectOptions & { output: OutputFormat; server?: string }) => {
      const subject = subjectOf(opts);
      const { client } = await connect(opts.server);
      printList(
        await listAssignments(client, subject),
        opts.output,
        [
          { header: 'ID', value: (a) => cell(a.id) },
          { header: 'ROLE', value: (a) => a.role },
          {
            header: 'SUBJECT',
            value: (a) => (a.group !== undefined ? `group:${a.group}` : `user:${a.user ?? '-'}`),
          },
          { header: 'PROJECT', value: (a) => cell(a.project) },
          { header: 'NAMESPACES', value: (a) => (a.namespaces ?? []).join(',') },
        ],
        'role assignments',
      );
    });

  roles
    .command('assign')
    .description('give a user or group a role')
    .option('--user <username>', 'the user')
    .option('--group <group>', 'the group')
    .requiredOption('--role <role>', roleHelp)
    .option('--project <project>', 'the project, for project and namespace roles')
    .option('--namespaces <list>', 'comma-separated namespaces, for namespace roles')
    .addOption(serverOption())
    .action(async (opts: GrantOptions) => {
      const subject = requireSubject(opts);
      const grant = grantOf(opts);
      const { client } = await connect(opts.server);
      await client.json('POST', '/v1/role-assignments', { ...subject, ...grant });
      write(`Assigned ${describeAssignment(grant)} to ${describeSubject(subject)}\n`);
    });

  roles
    .command('revoke')
    .description('take a role away from a user or group')
    .option('--user <username>', 'the user')
    .option('--group <group>', 'the group')
    .requiredOption('--role <role>', roleHelp)
    .option('--project <project>', 'the project, for project and namespace roles')
    .option(
      '--namespaces <list>',
      'comma-separated namespaces; without it, every namespace assignment matches',
    )
    .addOption(serverOption())
    .action(async (opts: GrantOptions) => {
      const subject = requireSubject(opts);
      const grant = grantOf(opts, true);
      const { client } = await connect(opts.server);
      const found = matchingAssignments(await listAssignments(client, subject), subject, grant);
      if (found.length === 0) throw new CliError('no such role assignment');
      for (const assignment of found) {
        await client.request('DELETE', `/v1/role-assignments/${seg(String(assignment.id))}`);
        write(`Revoked ${cell(describeAssignment(assignment))} from ${describeSubject(subject)}\n`);
      }
    });
}
