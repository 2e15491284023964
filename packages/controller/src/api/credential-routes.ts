// Credentials a person holds and the ones they can ask for: API keys, kubeconfigs and short-lived kube
// tokens (the exec-credential plugin's). Every issue is recorded; no secret is ever shown twice.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_ORG, MAX_KUBE_TOKEN_TTL_SECONDS, ZtkaError } from '@ztka/protocol';
import { noClusterAccess } from '../access/authorize.js';
import { effectiveAccess } from '../access/effective.js';
import { renderKubeconfig } from '../auth/kubeconfig.js';
import { caller, recordAction, type ApiDeps, type Caller } from './context.js';
import { Body, Label, PAGE_PARAMS, Username, errors, page } from './schemas.js';
import { pageOf } from '../org/page.js';

/** The ceiling on kube tokens: short enough that a leaked one is soon worthless. */
const MAX_API_KEY_VALIDITY_S = 365 * 24 * 3600;
const DEFAULT_API_KEY_VALIDITY_S = 90 * 24 * 3600;

const CredentialsQuery = Type.Object(
  { user: Type.Optional(Username), ...PAGE_PARAMS },
  { additionalProperties: false },
);
const CredentialParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
});
const ApiKeyBody = Body({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  validitySeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_API_KEY_VALIDITY_S })),
});
const KubeconfigBody = Body({ cluster: Type.Optional(Label), exec: Type.Optional(Type.Boolean()) });
const TokenBody = Body({ cluster: Label });

/** The clusters the caller can send kubectl to (all, or the one asked for). */
async function reachableClusters(
  deps: ApiDeps,
  c: Caller,
  only?: string,
): Promise<{ name: string; id: string }[]> {
  const assignments = await deps.access.assignments(c.principal.userId);
  const names =
    only !== undefined ? [only] : (await deps.clusters.list(undefined, DEFAULT_ORG)).map((x) => x.name);
  const result: { name: string; id: string }[] = [];
  for (const name of names) {
    const scope = await deps.access.clusterScope(name);
    if (scope && scope.orgId === c.principal.orgId && effectiveAccess(assignments, scope.projectId))
      result.push({ name, id: scope.clusterId });
  }
  if (only !== undefined && result.length === 0) throw noClusterAccess(only);
  return result;
}

export function registerCredentialRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get<{ Querystring: Static<typeof CredentialsQuery> }>(
    '/v1/credentials',
    {
      schema: { tags: ['credentials'], querystring: CredentialsQuery, response: errors(400, 401, 403, 404) },
    },
    async (req) => {
      const c = await caller(deps, req);
      const username = req.query.user?.toLowerCase() ?? c.principal.username;
      if (username !== c.principal.username && !c.powers.orgReader)
        throw new ZtkaError('forbidden', "only org admins may list other users' credentials");
      const user = await deps.users.get(c.principal.orgId, username);
      return pageOf(await deps.credentials.list(c.principal.orgId, user.id), page(req.query), (x) => x.id);
    },
  );

  app.delete<{ Params: Static<typeof CredentialParams> }>(
    '/v1/credentials/:id',
    { schema: { tags: ['credentials'], params: CredentialParams, response: errors(400, 401, 403, 404) } },
    async (req, reply) => {
      const c = await caller(deps, req);
      await deps.credentials.revoke(req.params.id, c.powers.orgAdmin ? undefined : c.principal.userId);
      await recordAction(deps, req, c, 'credential_revoked', { id: req.params.id });
      return reply.code(204).send();
    },
  );

  app.post<{ Body: Static<typeof ApiKeyBody> }>(
    '/v1/api-keys',
    { schema: { tags: ['credentials'], body: ApiKeyBody, response: errors(400, 401, 403) } },
    async (req, reply) => {
      const c = await caller(deps, req);
      const validity = req.body.validitySeconds ?? DEFAULT_API_KEY_VALIDITY_S;
      const key = await deps.credentials.issue(c.principal.userId, 'api_key', {
        name: req.body.name,
        ttlMs: validity * 1000,
        issuedBy: { credentialId: c.principal.credentialId },
      });
      await recordAction(deps, req, c, 'api_key_issued', { id: key.id, name: req.body.name });
      return reply.code(201).send({ id: key.id, key: key.token, expiresAt: key.expiresAt });
    },
  );

  app.post<{ Body: Static<typeof KubeconfigBody> }>(
    '/v1/kubeconfig',
    { schema: { tags: ['credentials'], body: KubeconfigBody, response: errors(400, 401, 403) } },
    async (req, reply) => {
      const c = await caller(deps, req);
      const clusters = await reachableClusters(deps, c, req.body.cluster);
      if (clusters.length === 0) throw new ZtkaError('forbidden', 'you have no access to any cluster');
      const exec = req.body.exec === true;
      let token: string | undefined;
      let credentialId: string | undefined;
      if (!exec) {
        const settings = await deps.settings.get(c.principal.orgId);
        const issued = await deps.credentials.issue(c.principal.userId, 'kubeconfig', {
          name: req.body.cluster ? `kubeconfig for ${req.body.cluster}` : 'kubeconfig for all clusters',
          ttlMs: settings.kubeconfigValiditySeconds * 1000,
          channel: 'cli',
          // A kubeconfig for one cluster works for that cluster only.
          ...(req.body.cluster ? { clusterId: clusters[0]?.id ?? '' } : {}),
          issuedBy: { credentialId: c.principal.credentialId },
        });
        token = issued.token;
        credentialId = issued.id;
      }
      await recordAction(deps, req, c, 'kubeconfig_downloaded', {
        clusters: clusters.map((x) => x.name),
        exec,
        ...(credentialId ? { credential: credentialId } : {}),
      });
      return reply.type('application/yaml').send(
        renderKubeconfig({
          publicUrl: deps.publicUrl,
          caCertPem: deps.caCertPem,
          username: c.principal.username,
          clusters: clusters.map((x) => x.name),
          ...(token === undefined ? {} : { token }),
        }),
      );
    },
  );

  app.post<{ Body: Static<typeof TokenBody> }>(
    '/v1/tokens',
    { schema: { tags: ['credentials'], body: TokenBody, response: errors(400, 401, 403) } },
    async (req) => {
      const c = await caller(deps, req);
      const [cluster] = await reachableClusters(deps, c, req.body.cluster);
      // Whoever asks, the token is used by a kubectl outside any browser shell: the CLI channel. (A browser
      // shell's tokens are minted by the shell itself and work only through its own sandbox's socket.)
      const channel = 'cli';
      const issued = await deps.credentials.issue(c.principal.userId, 'kube_token', {
        name: `token for ${req.body.cluster}`,
        ttlMs: Math.min(deps.kubeTokenTtlMs, MAX_KUBE_TOKEN_TTL_SECONDS * 1000),
        channel,
        clusterId: cluster?.id ?? '',
        issuedBy: { credentialId: c.principal.credentialId },
      });
      await recordAction(deps, req, c, 'kube_token_issued', {
        cluster: req.body.cluster,
        channel,
        id: issued.id,
      });
      return { token: issued.token, expiresAt: issued.expiresAt };
    },
  );
}
