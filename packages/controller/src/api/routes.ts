import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AGENT_REGISTER_PATH, ZtkaError } from '@ztka/protocol';
import type { ClusterRegistry } from '../clusters/registry.js';
import { RegistryError } from '../clusters/registry.js';
import { bootstrapManifest } from '../clusters/manifest.js';

const RegisterBody = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 512 }),
    identity: Type.String({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
const CreateClusterBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    project: Type.String({ minLength: 1, maxLength: 63 }),
  },
  { additionalProperties: false },
);
const ClusterParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });

/** Registry errors as API errors; an invalid token says the same whatever made it invalid. */
function apiError(err: unknown): unknown {
  if (!(err instanceof RegistryError)) return err;
  switch (err.code) {
    case 'invalid_name':
    case 'invalid_argument':
      return new ZtkaError('bad_request', err.message, { cause: err });
    case 'not_found':
      return new ZtkaError('not_found', err.message, { cause: err });
    case 'conflict':
      return new ZtkaError('conflict', err.message, { cause: err });
    case 'identity_mismatch':
      return new ZtkaError('forbidden', 'this token belongs to another cluster', { cause: err });
    default:
      return new ZtkaError('unauthorized', 'the bootstrap token is invalid, expired or already used', {
        cause: err,
      });
  }
}

export function registerRoutes(
  app: FastifyInstance,
  deps: {
    registry: ClusterRegistry;
    requireAdmin: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
    publicUrl: string;
    caCertPem: string;
    agentImage: string;
  },
): void {
  const { registry } = deps;

  app.post<{ Body: Static<typeof RegisterBody> }>(
    AGENT_REGISTER_PATH,
    { schema: { body: RegisterBody } },
    async (req) => {
      try {
        const { clusterName, agentCredential } = await registry.exchangeBootstrapToken(
          req.body.token,
          req.body.identity,
        );
        req.log.info({ cluster: clusterName }, 'agent registered');
        return { cluster: clusterName, credential: agentCredential };
      } catch (err) {
        throw apiError(err);
      }
    },
  );

  app.post<{ Body: Static<typeof CreateClusterBody> }>(
    '/v1/clusters',
    { schema: { body: CreateClusterBody }, preHandler: deps.requireAdmin },
    async (req, reply) => {
      try {
        await registry.ensureOrgAndProject('default', req.body.project);
        const { cluster, bootstrapToken } = await registry.createCluster(req.body);
        reply.code(201);
        return {
          cluster,
          bootstrapToken,
          manifestUrl: `${deps.publicUrl}/v1/clusters/${encodeURIComponent(req.body.name)}/bootstrap.yaml`,
        };
      } catch (err) {
        throw apiError(err);
      }
    },
  );

  app.get('/v1/clusters', { preHandler: deps.requireAdmin }, async () => ({
    items: await registry.listClusters(),
  }));

  app.get<{ Params: Static<typeof ClusterParams> }>(
    '/v1/clusters/:name',
    { schema: { params: ClusterParams }, preHandler: deps.requireAdmin },
    async (req) => {
      const cluster = await registry.getCluster(req.params.name);
      if (!cluster) throw new ZtkaError('not_found', `unknown cluster "${req.params.name}"`);
      return cluster;
    },
  );

  // Each download mints a fresh single-use token (revoking the previous unused one), so the manifest can
  // be fetched again if the first copy was lost, and a leaked old copy is worthless.
  app.get<{ Params: Static<typeof ClusterParams> }>(
    '/v1/clusters/:name/bootstrap.yaml',
    { schema: { params: ClusterParams }, preHandler: deps.requireAdmin },
    async (req, reply) => {
      try {
        const token = await registry.newBootstrapToken(req.params.name);
        req.log.info({ cluster: req.params.name }, 'bootstrap manifest issued');
        return reply.type('application/yaml').send(
          bootstrapManifest({
            cluster: req.params.name,
            controllerUrl: deps.publicUrl,
            caCertPem: deps.caCertPem,
            bootstrapToken: token.token,
            image: deps.agentImage,
          }),
        );
      } catch (err) {
        throw apiError(err);
      }
    },
  );
}
