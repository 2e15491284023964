// Clusters and agent registration. A caller sees the clusters of the projects where they hold a role; one
// outside them gets the same 403 whether it exists or not. A cluster's identity (its kube-system UID, what
// its agent's credential is bound to) is shown to org admins only.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import {
  AGENT_EVENTS,
  AGENT_REGISTER_PATH,
  DEFAULT_ORG,
  ZtkaError,
  agentKeyFingerprint,
} from '@ztka/protocol';
import { noClusterAccess } from '../access/authorize.js';
import { canManageClusters, canSeeProject } from '../access/effective.js';
import type { ClusterView } from '../clusters/clusters.js';
import { bootstrapManifest } from '../clusters/manifest.js';
import { caller, recordAction, type ApiDeps, type Caller } from './context.js';
import { Body, Label, NameParams, PAGE_PARAMS, errors, page } from './schemas.js';
import { pageOf } from '../org/page.js';

const RegisterBody = Body({
  token: Type.String({ minLength: 1, maxLength: 512 }),
  identity: Type.String({ minLength: 1, maxLength: 128 }),
  /** The agent's own Ed25519 public key (SPKI DER, base64url); its private half never leaves the agent. */
  publicKey: Type.String({ minLength: 1, maxLength: 128 }),
});
const CreateClusterBody = Body({ name: Label, project: Label });
const ListQuery = Type.Object(
  { project: Type.Optional(Label), ...PAGE_PARAMS },
  { additionalProperties: false },
);

/** What the caller may see of a cluster: its identity only if they are an org admin. */
function shown(
  c: Caller,
  cluster: ClusterView,
): Omit<ClusterView, 'identity'> & { identity?: string | null } {
  if (c.powers.orgAdmin) return cluster;
  const rest: Partial<ClusterView> & Omit<ClusterView, 'identity'> = { ...cluster };
  delete rest.identity;
  return rest;
}

/** The cluster if the caller may see it (and, with `manage`, administer it); the same 403 otherwise. */
async function visibleCluster(deps: ApiDeps, c: Caller, name: string, manage = false): Promise<ClusterView> {
  const scope = await deps.access.clusterScope(name);
  const allowed =
    scope !== undefined &&
    scope.orgId === c.principal.orgId &&
    (manage ? canManageClusters(c.powers, scope.projectId) : canSeeProject(c.powers, scope.projectId));
  const cluster = allowed ? await deps.clusters.get(name) : undefined;
  if (cluster) return cluster;
  if (!scope && c.powers.orgReader)
    throw new ZtkaError('not_found', `unknown cluster ${JSON.stringify(name)}`);
  throw noClusterAccess(name);
}

export function registerClusterRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { clusters, bootstrapTokens } = deps;

  app.post<{ Body: Static<typeof RegisterBody> }>(
    AGENT_REGISTER_PATH,
    { schema: { tags: ['agents'], body: RegisterBody, response: errors(400, 401, 403) } },
    async (req) => {
      const { clusterName, agentCredential } = await bootstrapTokens.exchange(
        req.body.token,
        req.body.identity,
        req.body.publicKey,
      );
      const key = agentKeyFingerprint(req.body.publicKey);
      req.log.info({ cluster: clusterName, key }, 'agent registered');
      await deps.events.record({
        kind: AGENT_EVENTS.registered,
        orgId: deps.defaultOrgId,
        sourceIp: req.ip,
        detail: { cluster: clusterName, key },
      });
      return { cluster: clusterName, credential: agentCredential };
    },
  );

  app.post<{ Body: Static<typeof CreateClusterBody> }>(
    '/v1/clusters',
    { schema: { tags: ['clusters'], body: CreateClusterBody, response: errors(400, 401, 403, 404, 409) } },
    async (req, reply) => {
      const c = await caller(deps, req);
      const projectId = await deps.projects.find(c.principal.orgId, req.body.project);
      if (!projectId || !canManageClusters(c.powers, projectId)) {
        if (!projectId && c.powers.orgAdmin)
          throw new ZtkaError('not_found', `project ${JSON.stringify(req.body.project)} not found`, {
            field: '/project',
          });
        throw new ZtkaError(
          'forbidden',
          `you may not create clusters in project ${JSON.stringify(req.body.project)}`,
        );
      }
      const { cluster, bootstrapToken } = await clusters.create({ ...req.body, org: DEFAULT_ORG });
      deps.changes.emit({ kind: 'clusters' });
      await recordAction(deps, req, c, 'cluster_created', {
        cluster: cluster.name,
        project: cluster.project,
      });
      reply.code(201);
      return {
        cluster: shown(c, cluster),
        bootstrapToken,
        manifestUrl: `${deps.publicUrl}/v1/clusters/${encodeURIComponent(req.body.name)}/bootstrap.yaml`,
      };
    },
  );

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/v1/clusters',
    { schema: { tags: ['clusters'], querystring: ListQuery, response: errors(400, 401) } },
    async (req) => {
      const c = await caller(deps, req);
      const visible = c.powers.visibleProjects ?? undefined;
      const listed = await clusters.list(req.query.project, DEFAULT_ORG, visible);
      return pageOf(
        listed.map((x) => shown(c, x)),
        page(req.query),
        (x) => x.name,
      );
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    '/v1/clusters/:name',
    { schema: { tags: ['clusters'], params: NameParams, response: errors(401, 403, 404) } },
    async (req) => {
      const c = await caller(deps, req);
      return shown(c, await visibleCluster(deps, c, req.params.name));
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    '/v1/clusters/:name',
    { schema: { tags: ['clusters'], params: NameParams, response: errors(401, 403, 404) } },
    async (req, reply) => {
      const c = await caller(deps, req);
      await visibleCluster(deps, c, req.params.name, true);
      await clusters.delete(req.params.name);
      deps.tunnels.get(req.params.name)?.close('cluster deleted');
      deps.changes.emit({ kind: 'clusters' });
      await recordAction(deps, req, c, 'cluster_deleted', { cluster: req.params.name });
      return reply.code(204).send();
    },
  );

  // Each download mints a fresh single-use token (revoking the previous unused one), so the manifest can
  // be fetched again if the first copy was lost, and a leaked old copy is worthless.
  app.get<{ Params: Static<typeof NameParams> }>(
    '/v1/clusters/:name/bootstrap.yaml',
    { schema: { tags: ['clusters'], params: NameParams, response: errors(401, 403, 404) } },
    async (req, reply) => {
      const c = await caller(deps, req);
      await visibleCluster(deps, c, req.params.name, true);
      const token = await bootstrapTokens.issue(req.params.name);
      await recordAction(deps, req, c, 'bootstrap_manifest_issued', { cluster: req.params.name });
      return reply.type('application/yaml').send(
        bootstrapManifest({
          cluster: req.params.name,
          controllerUrl: deps.publicUrl,
          caCertPem: deps.caCertPem,
          bootstrapToken: token.token,
          image: deps.agentImage,
        }),
      );
    },
  );
}
