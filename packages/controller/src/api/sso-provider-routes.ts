// The org admin's single sign-on providers: list, add, change, remove. Saving checks discovery at the issuer;
// the client secret is write-only; moving a provider to another issuer or client, or removing it, ends the
// sessions it gave.
import type { FastifyInstance } from 'fastify';
import { Type, type Static, type TOptional, type TSchema } from '@sinclair/typebox';
import { SSO_EVENTS, ZtkaError } from '@ztka/protocol';
import { explain } from '../auth/sso/oidc.js';
import {
  MAX_SESSION_BOUNDS,
  PROVIDER_DEFAULTS,
  type Provider,
  type ProviderSettings,
} from '../auth/sso/providers.js';
import { recordAction, requireOrgAdmin, requireOrgReader, type ApiDeps } from './context.js';
import { Body, Label, NameParams, errors } from './schemas.js';
import type { SsoServices } from './sso-routes.js';

/** Path segments under /v1/auth/sso that are routes, not provider names. */
const RESERVED_NAMES = new Set(['callback', 'cli', 'exchange', 'device', 'providers']);

const Claim = Type.String({ minLength: 1, maxLength: 100 });
const providerFields = {
  displayName: Type.String({ minLength: 1, maxLength: 100 }),
  issuer: Type.String({ minLength: 1, maxLength: 500 }),
  clientId: Type.String({ minLength: 1, maxLength: 500 }),
  clientSecret: Type.String({ minLength: 1, maxLength: 4096, description: 'write-only' }),
  scopes: Type.Array(Type.String({ pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,100}$' }), { maxItems: 50 }),
  usernameClaim: Claim,
  emailClaim: Claim,
  groupsClaim: Claim,
  allowedDomains: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 100 }),
  groupMapping: Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Label, { maxProperties: 1000 }),
  groupsByName: Type.Boolean(),
  caPem: Type.Union([Type.String({ minLength: 1, maxLength: 65_536 }), Type.Null()]),
  maxSessionSeconds: Type.Integer(MAX_SESSION_BOUNDS),
  deviceFlow: Type.Boolean(),
};
const optional = <T extends Record<string, TSchema>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Type.Optional(v)])) as {
    [K in keyof T]: TOptional<T[K]>;
  };
const { issuer, clientId, clientSecret, ...rest } = providerFields;
const CreateProviderBody = Body({ name: Label, issuer, clientId, clientSecret, ...optional(rest) });
const UpdateProviderBody = Type.Object(optional(providerFields), {
  additionalProperties: false,
  minProperties: 1,
});
type Patch = Static<typeof UpdateProviderBody>;

function settingsOf(base: ProviderSettings, patch: Patch): ProviderSettings {
  const next = { ...base };
  for (const [key, value] of Object.entries(patch))
    if (value !== undefined && key !== 'clientSecret') (next as Record<string, unknown>)[key] = value;
  return {
    ...next,
    scopes: [...new Set(next.scopes)],
    allowedDomains: next.allowedDomains.map((d) => d.toLowerCase()),
  };
}

export function registerSsoProviderRoutes(app: FastifyInstance, deps: ApiDeps, sso: SsoServices): void {
  app.get('/v1/sso/providers', { schema: { tags: ['sso'], response: errors(401, 403) } }, async (req) => {
    const c = await requireOrgReader(deps, req);
    return { items: await sso.providers.list(c.principal.orgId) };
  });

  const discoverable = async (candidate: Provider) => {
    try {
      await sso.clients.check(candidate);
    } catch (err) {
      throw new ZtkaError('bad_request', explain(err).message, { field: '/issuer' });
    }
  };

  app.post<{ Body: Static<typeof CreateProviderBody> }>(
    '/v1/sso/providers',
    { schema: { tags: ['sso'], body: CreateProviderBody, response: errors(400, 401, 403, 409) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      const { name, clientSecret: secret, ...patch } = req.body;
      if (RESERVED_NAMES.has(name))
        throw new ZtkaError('bad_request', `${name} is reserved: choose another provider name`, {
          field: '/name',
        });
      const settings = settingsOf(
        { ...PROVIDER_DEFAULTS, displayName: name, issuer: '', clientId: '' },
        patch,
      );
      const candidate: Provider = {
        id: 'new',
        orgId: c.principal.orgId,
        name,
        ...settings,
        clientSecret: secret,
        updatedAt: 0,
      };
      await discoverable(candidate);
      await sso.providers.create(c.principal.orgId, name, settings, secret);
      await recordAction(deps, req, c, SSO_EVENTS.providerSaved, {
        provider: name,
        issuer: settings.issuer,
        created: true,
      });
      return reply.code(201).send(await sso.providers.describe(c.principal.orgId, name));
    },
  );

  app.patch<{ Params: Static<typeof NameParams>; Body: Patch }>(
    '/v1/sso/providers/:name',
    {
      schema: {
        tags: ['sso'],
        params: NameParams,
        body: UpdateProviderBody,
        response: errors(400, 401, 403, 404),
      },
    },
    async (req) => {
      const c = await requireOrgAdmin(deps, req);
      const current = await sso.providers.get(c.principal.orgId, req.params.name);
      const settings = settingsOf(current, req.body);
      const secret = req.body.clientSecret;
      const moved = settings.issuer !== current.issuer || settings.clientId !== current.clientId;
      // Another issuer or client is another provider: the secret must be given again (it must never be sent
      // to an address an admin just typed), and nobody's session there carries over.
      if (moved && secret === undefined)
        throw new ZtkaError('bad_request', 'a new issuer or client id needs its client secret too', {
          field: '/clientSecret',
        });
      await discoverable({
        ...current,
        ...settings,
        clientSecret: secret ?? current.clientSecret,
        updatedAt: -1,
      });
      await sso.providers.update(current, settings, secret);
      if (moved) {
        sso.clients.forget(current.id);
        for (const p of await sso.identities.peopleOf(current.id))
          await sso.identities.end(p.userId, p.username);
      }
      await recordAction(deps, req, c, SSO_EVENTS.providerSaved, {
        provider: current.name,
        changed: Object.keys(req.body).sort(),
      });
      return sso.providers.describe(c.principal.orgId, current.name);
    },
  );

  app.delete<{ Params: Static<typeof NameParams> }>(
    '/v1/sso/providers/:name',
    { schema: { tags: ['sso'], params: NameParams, response: errors(401, 403, 404) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      const provider = await sso.providers.get(c.principal.orgId, req.params.name);
      // Its people's sessions end with it: nothing they hold was vouched for by anything else.
      const people = await sso.identities.peopleOf(provider.id);
      for (const p of people) await sso.identities.end(p.userId, p.username);
      await sso.providers.delete(provider);
      await sso.identities.forgetMemberships(provider.id);
      sso.clients.forget(provider.id);
      await recordAction(deps, req, c, SSO_EVENTS.providerDeleted, {
        provider: provider.name,
        sessionsEnded: people.length,
      });
      return reply.code(204).send();
    },
  );
}
