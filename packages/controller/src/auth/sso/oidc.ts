// The controller as an OpenID Connect relying party, on `openid-client`: discovery, the authorization code
// flow with PKCE, state and nonce, refresh, and the device flow. Every token and every check (signature
// against the provider's published keys, issuer, audience, expiry, nonce, the `iss` response parameter) is
// the library's; this file only chooses the parameters and says in words what a failure means.
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Provider } from './providers.js';

/** How long discovery and token requests may take before the login fails. */
const REQUEST_TIMEOUT_SECONDS = 10;
/** How long a discovered configuration is reused: key rotation is found through it within this time. */
const CONFIG_TTL_MS = 10 * 60_000;

export type OidcClaims = Record<string, unknown> & { sub: string };

export interface TokenResult {
  claims: OidcClaims;
  refreshToken: string | undefined;
}

/** A refusal or failure of a step of the protocol, with a stable reason for the trail and words for people. */
export class OidcError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    /** True when the provider itself refused (invalid_grant…): a refresh refused so ends the session. */
    readonly refusedByProvider = false,
  ) {
    super(message);
  }
}

/** The words for a failure from openid-client (or the network), never echoing a token. */
export function explain(err: unknown): OidcError {
  if (err instanceof OidcError) return err;
  const e = err as {
    code?: unknown;
    error?: unknown;
    error_description?: unknown;
    message?: unknown;
    cause?: unknown;
  };
  // openid-client wraps the check that failed (oauth4webapi's error, whose own cause names the claim).
  const inner = (e.cause ?? {}) as { message?: unknown; claim?: unknown; cause?: unknown };
  const outer = typeof e.message === 'string' ? e.message : String(err);
  const message = (typeof inner.message === 'string' ? `${outer}: ${inner.message}` : outer).slice(0, 300);
  if (typeof e.error === 'string') {
    const description =
      typeof e.error_description === 'string' ? `: ${e.error_description.slice(0, 200)}` : '';
    return new OidcError(
      e.error.slice(0, 60),
      `the identity provider refused: ${e.error}${description}`,
      true,
    );
  }
  const cause = {
    claim: inner.claim ?? ((inner.cause ?? {}) as { claim?: unknown }).claim,
  };
  switch (e.code) {
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED': {
      const claim = typeof cause.claim === 'string' ? cause.claim : '';
      if (claim === 'nonce')
        return new OidcError('nonce_mismatch', 'the ID token was not issued for this login (nonce mismatch)');
      if (claim === 'iss' || /issuer/i.test(message))
        return new OidcError(
          'issuer_mismatch',
          `the identity provider's issuer does not match the configured one: ${message}`,
        );
      if (claim === 'aud' || claim === 'azp')
        return new OidcError('audience_mismatch', 'the ID token was issued for another client');
      return new OidcError('claim_mismatch', `the identity provider's answer did not check out: ${message}`);
    }
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      return new OidcError('token_expired', 'the ID token has expired or is not yet valid: check the clocks');
    case 'OAUTH_INVALID_RESPONSE':
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
    case 'OAUTH_PARSE_ERROR':
      if (/signature/i.test(message))
        return new OidcError(
          'bad_signature',
          "the ID token signature does not verify against the identity provider's keys",
        );
      if (/state/i.test(message))
        return new OidcError('state_mismatch', 'the sign-in answer does not belong to this login');
      return new OidcError('invalid_response', `the identity provider's answer is not valid: ${message}`);
    case 'OAUTH_KEY_SELECTION_FAILED':
      return new OidcError(
        'bad_signature',
        'the ID token is signed with a key the identity provider does not publish',
      );
    case 'OAUTH_MISSING_SERVER_METADATA':
    case 'OAUTH_INVALID_SERVER_METADATA':
      return new OidcError(
        'discovery_failed',
        `the identity provider's discovery document is not usable: ${message}`,
      );
    default:
      break;
  }
  if (/signature/i.test(message) || e.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
    return new OidcError(
      'bad_signature',
      "the ID token signature does not verify against the identity provider's keys",
    );
  if (/issuer/i.test(message)) return new OidcError('issuer_mismatch', `issuer mismatch: ${message}`);
  return new OidcError('provider_unreachable', `the identity provider could not be reached: ${message}`);
}

/** Builds and caches a client per provider; settings changes (updatedAt) start a new one. */
export class OidcClients {
  readonly #configs = new Map<string, { key: string; at: number; config: Promise<client.Configuration> }>();

  constructor(
    readonly redirectUri: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Discovery for a provider; throws OidcError when the issuer cannot be discovered or does not match. */
  async config(provider: Provider): Promise<client.Configuration> {
    const key = `${provider.updatedAt}`;
    const now = this.clock();
    const hit = this.#configs.get(provider.id);
    if (hit && hit.key === key && now - hit.at < CONFIG_TTL_MS) return hit.config;
    const config = this.#discover(provider);
    this.#configs.set(provider.id, { key, at: now, config });
    config.catch(() => {
      if (this.#configs.get(provider.id)?.config === config) this.#configs.delete(provider.id);
    });
    return config;
  }

  /** Discovery without caching: whether settings about to be saved work. */
  async check(provider: Provider): Promise<void> {
    await this.#discover(provider);
  }

  /** Forgets a provider's cached configuration, e.g. after a signature failure that rotation may explain. */
  forget(providerId: string): void {
    this.#configs.delete(providerId);
  }

  async #discover(provider: Provider): Promise<client.Configuration> {
    const options: client.DiscoveryRequestOptions = {
      timeout: REQUEST_TIMEOUT_SECONDS,
      // The protocol lets a client that got its ID token straight from the token endpoint over TLS skip
      // the signature; openid-client does unless asked. ztka asks: the token must verify against the
      // provider's published keys (and a key it has rotated in is fetched again).
      execute: [client.enableNonRepudiationChecks],
    };
    if (provider.caPem !== null) options[client.customFetch] = fetchTrusting(provider.caPem);
    try {
      return await client.discovery(
        new URL(provider.issuer),
        provider.clientId,
        { redirect_uris: [this.redirectUri], response_types: ['code'] },
        client.ClientSecretBasic(provider.clientSecret),
        options,
      );
    } catch (err) {
      const why = explain(err);
      throw new OidcError(
        why.reason === 'provider_unreachable' ? 'discovery_failed' : why.reason,
        `discovery of ${provider.issuer} failed: ${why.message}`,
      );
    }
  }

  /** The URL the browser is sent to, with the PKCE challenge of `verifier`. */
  async authorizationUrl(
    provider: Provider,
    checks: { state: string; nonce: string; verifier: string },
  ): Promise<URL> {
    const config = await this.config(provider);
    return client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: provider.scopes.join(' '),
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(checks.verifier),
      code_challenge_method: 'S256',
    });
  }

  /** Redeems the code of a callback; every check of the answer and of the ID token is made here. */
  async redeem(
    provider: Provider,
    callbackUrl: URL,
    checks: { state: string; nonce: string; verifier: string },
  ): Promise<TokenResult> {
    const config = await this.config(provider);
    try {
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      return await this.#result(config, tokens);
    } catch (err) {
      const why = explain(err);
      if (why.reason === 'bad_signature') this.forget(provider.id);
      throw why;
    }
  }

  /** A refresh: the provider's current view of the person, or OidcError (refusedByProvider if it said no). */
  async refresh(provider: Provider, refreshToken: string, subject: string): Promise<TokenResult> {
    const config = await this.config(provider);
    try {
      const tokens = await client.refreshTokenGrant(config, refreshToken);
      const result = await this.#result(config, tokens, subject);
      return { ...result, refreshToken: result.refreshToken ?? refreshToken };
    } catch (err) {
      throw explain(err);
    }
  }

  /** Starts a device-flow login; undefined when the provider offers none. */
  async startDevice(provider: Provider): Promise<client.DeviceAuthorizationResponse | undefined> {
    const config = await this.config(provider);
    if (!config.serverMetadata().device_authorization_endpoint) return undefined;
    try {
      return await client.initiateDeviceAuthorization(config, { scope: provider.scopes.join(' ') });
    } catch (err) {
      throw explain(err);
    }
  }

  /**
   * Waits for the person to finish a device-flow login, at most until `signal` aborts (then undefined:
   * ask again). The provider's interval and slow_down answers are honoured by the library.
   */
  async pollDevice(
    provider: Provider,
    device: client.DeviceAuthorizationResponse,
    signal: AbortSignal,
  ): Promise<TokenResult | undefined> {
    const config = await this.config(provider);
    try {
      const tokens = await client.pollDeviceAuthorizationGrant(config, device, undefined, { signal });
      return await this.#result(config, tokens);
    } catch (err) {
      if (signal.aborted) return undefined;
      throw explain(err);
    }
  }

  async #result(
    config: client.Configuration,
    tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
    expectedSubject?: string,
  ): Promise<TokenResult> {
    const idClaims = tokens.claims();
    const subject = idClaims?.sub ?? expectedSubject;
    if (subject === undefined) throw new OidcError('no_id_token', 'the identity provider sent no ID token');
    if (expectedSubject !== undefined && subject !== expectedSubject)
      throw new OidcError('subject_mismatch', 'the identity provider answered for another person', true);
    let claims: OidcClaims = { ...(idClaims ?? {}), sub: subject };
    // Groups and email are often only at userinfo; the ID token's claims win where both say something.
    if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
      const info = await client.fetchUserInfo(config, tokens.access_token, subject);
      claims = { ...info, ...claims };
    }
    return { claims, refreshToken: tokens.refresh_token };
  }
}

/** fetch that trusts `caPem` (and only it) for the provider's TLS certificate. */
function fetchTrusting(caPem: string): client.CustomFetch {
  const dispatcher = new Agent({ connect: { ca: caPem } });
  return (url, options) =>
    undiciFetch(url, { ...options, dispatcher } as Parameters<
      typeof undiciFetch
    >[1]) as unknown as Promise<Response>;
}
