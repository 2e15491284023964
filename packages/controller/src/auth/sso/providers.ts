// The OpenID Providers an org's people log in with, as an org admin configured them. The client secret is
// sealed at rest and never leaves the controller again: views say only whether one is set.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import {
  DNS_LABEL_BODY,
  SSO_MAX_SESSION_BOUNDS,
  ZtkaError,
  type SsoProviderSettings,
  type SsoProviderView,
} from '@ztka/protocol';
import type { Database, SsoProvidersTable } from '../../store/schema.js';
import type { SecretBox } from '../../store/sealed.js';
import { checkLabel, conflict, isUniqueViolation } from '../../org/names.js';

/** What an admin sets. Every field but the name, issuer, client id and secret has a default. */
export type ProviderSettings = SsoProviderSettings;

export const PROVIDER_DEFAULTS = Object.freeze({
  scopes: ['openid', 'email', 'profile'],
  usernameClaim: 'email',
  emailClaim: 'email',
  groupsClaim: 'groups',
  allowedDomains: [] as string[],
  groupMapping: {} as Record<string, string>,
  groupsByName: false,
  caPem: null,
  maxSessionSeconds: 12 * 3600,
  deviceFlow: false,
});

export const MAX_SESSION_BOUNDS = SSO_MAX_SESSION_BOUNDS;

/** A provider as the controller uses it: settings plus the opened client secret. */
export interface Provider extends ProviderSettings {
  id: string;
  orgId: string;
  name: string;
  clientSecret: string;
  /** Changes with every update, so a cached client built from older settings is not reused. */
  updatedAt: number;
}

export type ProviderView = SsoProviderView;

/** An email domain: DNS-1123 labels and a top-level domain of letters, at most 253 characters. */
const DOMAIN = new RegExp(`^(?=.{1,253}$)(${DNS_LABEL_BODY}\\.)+[a-z]{2,63}$`);
const CLAIM = /^[A-Za-z0-9_:.\-/]{1,100}$/;

/** Checks what cannot be said in the API's schema; the same messages for the API and internal callers. */
export function checkProviderSettings(s: ProviderSettings): ProviderSettings {
  let issuer: URL;
  try {
    issuer = new URL(s.issuer);
  } catch {
    throw new ZtkaError('bad_request', `issuer ${JSON.stringify(s.issuer.slice(0, 200))} is not a URL`, {
      field: '/issuer',
    });
  }
  if (issuer.protocol !== 'https:' || issuer.search || issuer.hash || issuer.username || issuer.password)
    throw new ZtkaError('bad_request', 'issuer must be an https URL without query, fragment or credentials', {
      field: '/issuer',
    });
  if (!s.scopes.includes('openid'))
    throw new ZtkaError('bad_request', 'scopes must include openid', { field: '/scopes' });
  for (const [field, claim] of [
    ['/usernameClaim', s.usernameClaim],
    ['/emailClaim', s.emailClaim],
    ['/groupsClaim', s.groupsClaim],
  ] as const)
    if (!CLAIM.test(claim))
      throw new ZtkaError('bad_request', `${JSON.stringify(claim.slice(0, 100))} is not a claim name`, {
        field,
      });
  for (const domain of s.allowedDomains)
    if (!DOMAIN.test(domain))
      throw new ZtkaError(
        'bad_request',
        `${JSON.stringify(domain.slice(0, 100))} is not a lowercase domain name`,
        { field: '/allowedDomains' },
      );
  for (const group of Object.values(s.groupMapping)) checkLabel('group', group, '/groupMapping');
  if (s.caPem !== null && !/-----BEGIN CERTIFICATE-----/.test(s.caPem))
    throw new ZtkaError('bad_request', 'caPem must hold a PEM certificate', { field: '/caPem' });
  return s;
}

type Row = Selectable<SsoProvidersTable>;

const secretContext = (id: string) => `oidc-client-secret:${id}`;

export class SsoProviderStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly redirectUri: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Names and display names of an org's providers, for the login page (which anyone may see). */
  async names(): Promise<{ name: string; displayName: string }[]> {
    const rows = await this.db
      .selectFrom('sso_providers')
      .select(['name', 'display_name'])
      .orderBy('name')
      .execute();
    return rows.map((r) => ({ name: r.name, displayName: r.display_name }));
  }

  async list(orgId: string): Promise<ProviderView[]> {
    const rows = await this.db
      .selectFrom('sso_providers')
      .selectAll()
      .where('org_id', '=', orgId)
      .orderBy('name')
      .execute();
    return rows.map((r) => this.#view(r));
  }

  /** The provider named `name` (any org), or undefined. */
  async find(name: string): Promise<Provider | undefined> {
    const row = await this.db
      .selectFrom('sso_providers')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row && this.#open(row);
  }

  /** The provider named `name` (any org: the login page serves them all), or a 404 naming it. */
  async named(name: string): Promise<Provider> {
    const provider = await this.find(name);
    if (!provider)
      throw new ZtkaError('not_found', `single sign-on provider ${JSON.stringify(name)} not found`);
    return provider;
  }

  async byId(id: string): Promise<Provider | undefined> {
    const row = await this.db.selectFrom('sso_providers').selectAll().where('id', '=', id).executeTakeFirst();
    return row && this.#open(row);
  }

  /** The provider of an org, or a 404 naming it. */
  async get(orgId: string, name: string): Promise<Provider> {
    const provider = await this.find(name);
    if (!provider || provider.orgId !== orgId)
      throw new ZtkaError('not_found', `single sign-on provider ${JSON.stringify(name)} not found`);
    return provider;
  }

  async create(
    orgId: string,
    name: string,
    settings: ProviderSettings,
    clientSecret: string,
  ): Promise<Provider> {
    checkLabel('provider', name);
    checkProviderSettings(settings);
    const id = randomUUID();
    const now = this.clock();
    try {
      await this.db
        .insertInto('sso_providers')
        .values({
          id,
          org_id: orgId,
          name,
          ...this.#columns(settings),
          client_secret: this.box.seal(clientSecret, secretContext(id)),
          created_at: now,
          updated_at: now,
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('single sign-on provider', name);
      throw err;
    }
    return { id, orgId, name, ...settings, clientSecret, updatedAt: now };
  }

  /** Replaces the settings; the client secret too when one is given. */
  async update(
    current: Provider,
    settings: ProviderSettings,
    clientSecret: string | undefined,
  ): Promise<Provider> {
    checkProviderSettings(settings);
    const now = Math.max(this.clock(), current.updatedAt + 1);
    await this.db
      .updateTable('sso_providers')
      .set({
        ...this.#columns(settings),
        ...(clientSecret === undefined
          ? {}
          : { client_secret: this.box.seal(clientSecret, secretContext(current.id)) }),
        updated_at: now,
      })
      .where('id', '=', current.id)
      .execute();
    return { ...current, ...settings, clientSecret: clientSecret ?? current.clientSecret, updatedAt: now };
  }

  async delete(provider: Provider): Promise<void> {
    await this.db.deleteFrom('sso_providers').where('id', '=', provider.id).execute();
  }

  /** What an admin sees of a provider: everything but its secret. */
  async describe(orgId: string, name: string): Promise<ProviderView> {
    const row = await this.db
      .selectFrom('sso_providers')
      .selectAll()
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new ZtkaError('not_found', `single sign-on provider ${JSON.stringify(name)} not found`);
    return this.#view(row);
  }

  #columns(s: ProviderSettings) {
    return {
      display_name: s.displayName,
      issuer: s.issuer,
      client_id: s.clientId,
      scopes: s.scopes.join(' '),
      username_claim: s.usernameClaim,
      email_claim: s.emailClaim,
      groups_claim: s.groupsClaim,
      allowed_domains: s.allowedDomains.join(','),
      group_mapping: JSON.stringify(s.groupMapping),
      groups_by_name: s.groupsByName ? (1 as const) : (0 as const),
      ca_pem: s.caPem,
      max_session_s: s.maxSessionSeconds,
      device_flow: s.deviceFlow ? (1 as const) : (0 as const),
    };
  }

  #settings(row: Row): ProviderSettings {
    return {
      displayName: row.display_name,
      issuer: row.issuer,
      clientId: row.client_id,
      scopes: row.scopes.split(' ').filter(Boolean),
      usernameClaim: row.username_claim,
      emailClaim: row.email_claim,
      groupsClaim: row.groups_claim,
      allowedDomains: row.allowed_domains.split(',').filter(Boolean),
      groupMapping: JSON.parse(row.group_mapping) as Record<string, string>,
      groupsByName: row.groups_by_name === 1,
      caPem: row.ca_pem,
      maxSessionSeconds: Number(row.max_session_s),
      deviceFlow: row.device_flow === 1,
    };
  }

  #open(row: Row): Provider {
    return {
      id: row.id,
      orgId: row.org_id,
      name: row.name,
      ...this.#settings(row),
      clientSecret: this.box.open(row.client_secret, secretContext(row.id)),
      updatedAt: Number(row.updated_at),
    };
  }

  #view(row: Row): ProviderView {
    return {
      name: row.name,
      ...this.#settings(row),
      hasClientSecret: true,
      redirectUri: this.redirectUri,
      createdAt: new Date(Number(row.created_at)).toISOString(),
      updatedAt: new Date(Number(row.updated_at)).toISOString(),
    };
  }
}
