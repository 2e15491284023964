// Projects, users, groups, role assignments and org settings.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { NAMESPACE_POD_SECURITY, ZtkaError } from '@ztka/protocol';
import { MIN_PASSWORD_LENGTH, hashPassword, verifyPassword } from '../auth/passwords.js';
import { pageOf } from '../org/page.js';
import { SETTING_BOUNDS, type OrgSettings } from '../org/settings.js';
import { caller, recordAction, requireOrgAdmin, requireOrgReader, type ApiDeps } from './context.js';
import {
  Body,
  Label,
  NameParams,
  PageQuery,
  Password,
  RoleName,
  Username,
  UsernameParams,
  errors,
  page,
  PAGE_PARAMS,
} from './schemas.js';

function checkPassword(password: string, field = '/password'): string {
  if (password.length < MIN_PASSWORD_LENGTH)
    throw new ZtkaError('bad_request', `password must have at least ${MIN_PASSWORD_LENGTH} characters`, {
      field,
    });
  return password;
}

const ProjectBody = Body({ name: Label });
const UserBody = Body({ username: Username, password: Type.Optional(Password) });
const PasswordBody = Body({ password: Password, currentPassword: Type.Optional(Password) });
const GroupMemberParams = Type.Object({ name: Label, username: Username });
const AssignmentBody = Body({
  user: Type.Optional(Username),
  group: Type.Optional(Label),
  role: RoleName,
  project: Type.Optional(Label),
  namespaces: Type.Optional(Type.Array(Label, { maxItems: 100 })),
});
const AssignmentQuery = Type.Object(
  { user: Type.Optional(Username), group: Type.Optional(Label), ...PAGE_PARAMS },
  { additionalProperties: false },
);
const AssignmentParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const SettingsBody = Type.Object(
  {
    kubeconfigValiditySeconds: Type.Optional(Type.Integer(SETTING_BOUNDS.kubeconfigValiditySeconds)),
    saLifetimeSeconds: Type.Optional(Type.Integer(SETTING_BOUNDS.saLifetimeSeconds)),
    webKubectl: Type.Optional(Type.Boolean()),
    cliKubectl: Type.Optional(Type.Boolean()),
    namespacePodSecurity: Type.Optional(Type.Union(NAMESPACE_POD_SECURITY.map((v) => Type.Literal(v)))),
    requireTotp: Type.Optional(Type.Boolean()),
    ssoOnly: Type.Optional(Type.Boolean()),
    breakGlassUser: Type.Optional(Type.Union([Username, Type.Literal('')])),
  },
  { additionalProperties: false, minProperties: 1 },
);

export function registerOrgRoutes(app: FastifyInstance, deps: ApiDeps): void {
  // Projects
  app.get<{ Querystring: Static<typeof PageQuery> }>(
    '/v1/projects',
    { schema: { tags: ['projects'], querystring: PageQuery, response: errors(400, 401) } },
    async (req) => {
      const c = await caller(deps, req);
      const result = await deps.projects.list(c.principal.orgId, page(req.query), c.powers.visibleProjects);
      return { ...result, items: result.items.map(({ id: _id, ...p }) => p) };
    },
  );
  app.post<{ Body: Static<typeof ProjectBody> }>(
    '/v1/projects',
    { schema: { tags: ['projects'], body: ProjectBody, response: errors(400, 401, 403, 409) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      const project = await deps.projects.create(c.principal.orgId, req.body.name);
      await recordAction(deps, req, c, 'project_created', { project: project.name });
      return reply.code(201).send(project);
    },
  );
  app.delete<{ Params: Static<typeof NameParams> }>(
    '/v1/projects/:name',
    { schema: { tags: ['projects'], params: NameParams, response: errors(401, 403, 404, 409) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      await deps.projects.delete(c.principal.orgId, req.params.name);
      await recordAction(deps, req, c, 'project_deleted', { project: req.params.name });
      return reply.code(204).send();
    },
  );

  // Users
  app.get<{ Querystring: Static<typeof PageQuery> }>(
    '/v1/users',
    { schema: { tags: ['users'], querystring: PageQuery, response: errors(400, 401, 403) } },
    async (req) => {
      const c = await requireOrgReader(deps, req);
      return deps.users.list(c.principal.orgId, page(req.query));
    },
  );
  app.get<{ Params: Static<typeof UsernameParams> }>(
    '/v1/users/:username',
    { schema: { tags: ['users'], params: UsernameParams, response: errors(401, 403, 404) } },
    async (req) => {
      const c = await caller(deps, req);
      if (!c.powers.orgReader && req.params.username.toLowerCase() !== c.principal.username)
        throw new ZtkaError('forbidden', 'only an org ADMIN or ADMIN_READ_ONLY may see other users');
      return deps.users.view(await deps.users.get(c.principal.orgId, req.params.username));
    },
  );
  app.post<{ Body: Static<typeof UserBody> }>(
    '/v1/users',
    { schema: { tags: ['users'], body: UserBody, response: errors(400, 401, 403, 409) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      const hash =
        req.body.password === undefined ? null : await hashPassword(checkPassword(req.body.password));
      const user = await deps.users.create(c.principal.orgId, req.body.username, hash);
      await recordAction(deps, req, c, 'user_created', { user: user.username });
      return reply.code(201).send(await deps.users.view(user));
    },
  );
  app.put<{ Params: Static<typeof UsernameParams>; Body: Static<typeof PasswordBody> }>(
    '/v1/users/:username/password',
    {
      schema: {
        tags: ['users'],
        params: UsernameParams,
        body: PasswordBody,
        response: errors(400, 401, 403, 404),
      },
    },
    async (req, reply) => {
      const c = await caller(deps, req);
      const self = req.params.username.toLowerCase() === c.principal.username;
      if (!self && !c.powers.orgAdmin)
        throw new ZtkaError('forbidden', "only an org ADMIN may set another user's password");
      const user = await deps.users.get(c.principal.orgId, req.params.username);
      if (self && !c.powers.orgAdmin) {
        const current = req.body.currentPassword;
        if (
          current === undefined ||
          !user.passwordHash ||
          !(await verifyPassword(current, user.passwordHash))
        )
          throw new ZtkaError('forbidden', 'the current password is wrong', { field: '/currentPassword' });
      }
      // Every credential of the user ends, the caller's own too when it is their own password: they log in
      // again with the new one.
      await deps.users.setPassword(user, await hashPassword(checkPassword(req.body.password)));
      await recordAction(deps, req, c, 'password_set', { user: user.username });
      return reply.code(204).send();
    },
  );
  for (const action of ['disable', 'enable'] as const) {
    app.post<{ Params: Static<typeof UsernameParams> }>(
      `/v1/users/:username/${action}`,
      { schema: { tags: ['users'], params: UsernameParams, response: errors(401, 403, 404) } },
      async (req) => {
        const c = await requireOrgAdmin(deps, req);
        const user = await deps.users.get(c.principal.orgId, req.params.username);
        if (user.id === c.principal.userId && action === 'disable')
          throw new ZtkaError('bad_request', 'you cannot disable yourself', { field: '/username' });
        await deps.users.setDisabled(user, action === 'disable');
        await recordAction(deps, req, c, `user_${action}d`, { user: user.username });
        return deps.users.view({ ...user, disabled: action === 'disable' });
      },
    );
  }
  app.delete<{ Params: Static<typeof UsernameParams> }>(
    '/v1/users/:username',
    { schema: { tags: ['users'], params: UsernameParams, response: errors(401, 403, 404) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      const user = await deps.users.get(c.principal.orgId, req.params.username);
      if (user.id === c.principal.userId)
        throw new ZtkaError('bad_request', 'you cannot delete yourself', { field: '/username' });
      await deps.users.delete(user);
      await recordAction(deps, req, c, 'user_deleted', { user: user.username });
      return reply.code(204).send();
    },
  );

  // Groups
  app.get<{ Querystring: Static<typeof PageQuery> }>(
    '/v1/groups',
    { schema: { tags: ['groups'], querystring: PageQuery, response: errors(400, 401, 403) } },
    async (req) => {
      const c = await requireOrgReader(deps, req);
      return deps.groups.list(c.principal.orgId, page(req.query));
    },
  );
  app.post<{ Body: Static<typeof ProjectBody> }>(
    '/v1/groups',
    { schema: { tags: ['groups'], body: ProjectBody, response: errors(400, 401, 403, 409) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      const group = await deps.groups.create(c.principal.orgId, req.body.name);
      await recordAction(deps, req, c, 'group_created', { group: group.name });
      return reply.code(201).send(group);
    },
  );
  app.delete<{ Params: Static<typeof NameParams> }>(
    '/v1/groups/:name',
    { schema: { tags: ['groups'], params: NameParams, response: errors(401, 403, 404) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      await deps.groups.delete(c.principal.orgId, req.params.name);
      await recordAction(deps, req, c, 'group_deleted', { group: req.params.name });
      return reply.code(204).send();
    },
  );
  for (const method of ['put', 'delete'] as const) {
    app[method]<{ Params: Static<typeof GroupMemberParams> }>(
      '/v1/groups/:name/members/:username',
      { schema: { tags: ['groups'], params: GroupMemberParams, response: errors(401, 403, 404) } },
      async (req, reply) => {
        const c = await requireOrgAdmin(deps, req);
        const user = await deps.users.get(c.principal.orgId, req.params.username);
        if (method === 'put') await deps.groups.addMember(c.principal.orgId, req.params.name, user);
        else await deps.groups.removeMember(c.principal.orgId, req.params.name, user);
        await recordAction(deps, req, c, method === 'put' ? 'group_member_added' : 'group_member_removed', {
          group: req.params.name,
          user: user.username,
        });
        return reply.code(204).send();
      },
    );
  }

  // Role assignments
  app.get<{ Querystring: Static<typeof AssignmentQuery> }>(
    '/v1/role-assignments',
    { schema: { tags: ['roles'], querystring: AssignmentQuery, response: errors(400, 401, 403, 404) } },
    async (req) => {
      const c = await caller(deps, req);
      const forSelf = req.query.user !== undefined && req.query.user.toLowerCase() === c.principal.username;
      if (!c.powers.orgReader && !forSelf)
        throw new ZtkaError('forbidden', 'only org admins may list the role assignments of others');
      const filter: { userId?: string; groupId?: string } = {};
      if (req.query.user !== undefined)
        filter.userId = (await deps.users.get(c.principal.orgId, req.query.user)).id;
      // Someone who may not list groups learns of no group but their own: any other, existing or not, is
      // the same 404.
      if (req.query.group !== undefined)
        filter.groupId = await deps.groups.idOf(
          c.principal.orgId,
          req.query.group,
          c.powers.orgReader ? {} : { memberId: c.principal.userId },
        );
      return pageOf(await deps.roles.list(c.principal.orgId, filter), page(req.query), (a) => a.id);
    },
  );
  app.post<{ Body: Static<typeof AssignmentBody> }>(
    '/v1/role-assignments',
    { schema: { tags: ['roles'], body: AssignmentBody, response: errors(400, 401, 403, 404, 409) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      const { user, group, role, project, namespaces } = req.body;
      if ((user === undefined) === (group === undefined))
        throw new ZtkaError('bad_request', 'name exactly one of user and group', {
          field: user ? '/group' : '/user',
        });
      const orgId = c.principal.orgId;
      const subject =
        user !== undefined
          ? { userId: (await deps.users.get(orgId, user)).id }
          : { groupId: await deps.groups.idOf(orgId, group ?? '') };
      let projectId: string | null = null;
      if (project !== undefined) {
        const found = await deps.projects.find(orgId, project);
        if (!found)
          throw new ZtkaError('not_found', `project ${JSON.stringify(project)} not found`, {
            field: '/project',
          });
        projectId = found;
      }
      const id = await deps.roles.assign(orgId, subject, role, projectId, namespaces);
      await recordAction(deps, req, c, 'role_assigned', { ...req.body, id });
      const created = (await deps.roles.list(orgId, subject)).find((a) => a.id === id);
      return reply.code(201).send(created);
    },
  );
  app.delete<{ Params: Static<typeof AssignmentParams> }>(
    '/v1/role-assignments/:id',
    { schema: { tags: ['roles'], params: AssignmentParams, response: errors(400, 401, 403, 404) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      await deps.roles.revoke(c.principal.orgId, req.params.id);
      await recordAction(deps, req, c, 'role_revoked', { id: req.params.id });
      return reply.code(204).send();
    },
  );

  // Settings
  app.get('/v1/settings', { schema: { tags: ['settings'], response: errors(401) } }, async (req) => {
    const c = await caller(deps, req);
    return deps.settings.get(c.principal.orgId);
  });
  app.patch<{ Body: Static<typeof SettingsBody> }>(
    '/v1/settings',
    { schema: { tags: ['settings'], body: SettingsBody, response: errors(400, 401, 403) } },
    async (req) => {
      const c = await requireOrgAdmin(deps, req);
      const patch: Partial<OrgSettings> = { ...req.body };
      const settings = await deps.settings.update(c.principal.orgId, patch);
      await recordAction(deps, req, c, 'settings_changed', { ...req.body });
      return settings;
    },
  );
}
