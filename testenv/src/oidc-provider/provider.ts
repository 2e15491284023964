// The oidc-provider configuration: what a relying party of ztka's controller meets at a real identity
// provider (authorization code with PKCE, refresh tokens, the device flow, userinfo, revocation and
// introspection), with the people read from users.json at every use.
import Provider, { type Account, type ClientMetadata, type Configuration } from 'oidc-provider';
import { readUsers, type OidcClient, type OidcProviderConfig, type OidcUser } from './config.js';
import type { ProviderKeys } from './keys.js';
import type { FileStore } from './store.js';

export interface ProviderSetup {
  issuer: string;
  stateDir: string;
  config: OidcProviderConfig;
  keys: ProviderKeys;
  store: FileStore;
  log: (line: string) => void;
}

/** The user `sub` as the provider may vouch for them now: undefined once removed or disabled. */
export async function activeUser(stateDir: string, sub: string): Promise<OidcUser | undefined> {
  const user = (await readUsers(stateDir)).find((u) => u.sub === sub);
  return user && !user.disabled ? user : undefined;
}

function clientMetadata(client: OidcClient): ClientMetadata {
  return {
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    grant_types: client.grant_types,
    response_types: client.grant_types.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_basic',
    ...(client.post_logout_redirect_uris
      ? { post_logout_redirect_uris: client.post_logout_redirect_uris }
      : {}),
  };
}

export function buildProvider(setup: ProviderSetup): Provider {
  const { config, stateDir } = setup;
  const configuration: Configuration = {
    adapter: setup.store.adapter(),
    clients: config.clients.map(clientMetadata),
    cookies: { keys: setup.keys.cookieKeys },
    jwks: setup.keys.jwks,
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    // Relying parties of the controller read groups and email from the ID token, as they would from most
    // real providers, without a userinfo round trip.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // Refresh tokens to every client allowed to use them, whether or not it asked for offline_access.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    findAccount: async (_ctx, sub): Promise<Account | undefined> => {
      const user = await activeUser(stateDir, sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          email: user.email,
          email_verified: user.email_verified,
          name: user.name,
          preferred_username: user.username,
          groups: user.groups,
        }),
      };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      userinfo: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },
      // Any authenticated client may introspect, as a resource server would.
      introspection: { enabled: true, allowedPolicy: () => true },
    },
    ttl: {
      AccessToken: config.accessTokenTtlSeconds ?? 600,
      IdToken: config.idTokenTtlSeconds ?? 600,
      RefreshToken: config.refreshTokenTtlSeconds ?? 86_400,
      AuthorizationCode: 60,
      DeviceCode: 600,
      Interaction: 3600,
      Session: 86_400,
      Grant: Math.max(config.refreshTokenTtlSeconds ?? 86_400, 86_400),
    },
  };
  const provider = new Provider(setup.issuer, configuration);
  provider.on('server_error', (_ctx, err) => setup.log(`server error: ${err.stack ?? err.message}`));
  provider.on('grant.error', (_ctx, err) => setup.log(`token endpoint: ${err.message}`));
  provider.on('authorization.error', (_ctx, err) => setup.log(`authorization endpoint: ${err.message}`));
  provider.on('userinfo.error', (_ctx, err) => setup.log(`userinfo: ${err.message}`));
  return provider;
}
