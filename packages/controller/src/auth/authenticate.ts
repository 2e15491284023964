// Request → principal. Bearer tokens (API keys, kubeconfig credentials, kube tokens) and the console's
// session cookie, with the CSRF check that cookie-authenticated writes need. Verified credentials are cached
// briefly (the proxy authenticates every kubectl call), and the cache empties on every org change, so a
// revocation applies to the very next request; the TTL bounds staleness for changes made by another
// controller replica sharing the database.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { fastifyCookie } from '@fastify/cookie';
import { ZtkaError } from '@ztka/protocol';
import { GenerationCache, type ChangeFeed } from '../org/changes.js';
import type { CredentialKind, CredentialStore, Principal } from './credentials.js';

export const SESSION_COOKIE = '__Host-ztka_session';
export const CSRF_HEADER = 'x-csrf-token';
/**
 * The largest Cookie and Authorization headers read. Every ztka credential fits many times over; larger ones
 * are refused with 431 at the listener (http/limits.ts) and ignored here, on sockets that do not check.
 */
export const MAX_COOKIE_BYTES = 8192;
export const MAX_AUTHORIZATION_BYTES = 4096;

/** The CSRF token of a session: derived from its secret, so nothing more is stored and only its holder knows it. */
export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update(`ztka-csrf:${sessionToken}`).digest('base64url');
}

export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (typeof header !== 'string' || header.length > MAX_AUTHORIZATION_BYTES) return undefined;
  const [scheme, token] = header.trim().split(/\s+/, 2);
  return scheme?.toLowerCase() === 'bearer' && token ? token : undefined;
}

/**
 * The value of cookie `name`, or undefined (also for a Cookie header over MAX_COOKIE_BYTES). Read with
 * @fastify/cookie's parser, which server.ts registers before any request is served (its parser loads then).
 */
export function cookieValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const cookie = headers.cookie;
  if (typeof cookie !== 'string' || cookie.length > MAX_COOKIE_BYTES) return undefined;
  return fastifyCookie.parse(cookie)[name];
}

export function sessionCookie(headers: IncomingHttpHeaders): string | undefined {
  return cookieValue(headers, SESSION_COOKIE);
}

/**
 * The console session's Set-Cookie: HttpOnly, Secure and SameSite=Strict, for `maxAgeSeconds` (0 clears it).
 * The one place its attributes are said.
 */
export function sessionSetCookie(token: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Authenticator {
  readonly #cache: GenerationCache<Principal | undefined>;

  constructor(
    private readonly credentials: CredentialStore,
    changes: ChangeFeed,
    private readonly clock: () => number = Date.now,
  ) {
    this.#cache = new GenerationCache(changes, clock);
  }

  /** The principal behind a token of one of `kinds`, or undefined. */
  async verify(token: string, kinds: readonly CredentialKind[]): Promise<Principal | undefined> {
    // Keyed by the token's hash: the cache never holds a usable secret.
    const key = createHash('sha256').update(token).digest('base64url');
    const principal = await this.#cache.get(key, () =>
      this.credentials.verify(token, ['session', 'api_key', 'kubeconfig', 'kube_token']),
    );
    const now = this.clock();
    if (!principal || !kinds.includes(principal.kind)) return undefined;
    if (principal.expiresAt !== null && principal.expiresAt <= now) return undefined;
    return principal;
  }

  /**
   * The caller of a REST request: a bearer API key, or the session cookie. A cookie-authenticated request
   * that changes anything must carry the session's CSRF token. Throws 401/403 as ZtkaError.
   */
  async forApi(method: string, headers: IncomingHttpHeaders): Promise<Principal> {
    const bearer = bearerToken(headers);
    if (bearer !== undefined) {
      const principal = await this.verify(bearer, ['api_key']);
      if (!principal) throw new ZtkaError('unauthorized', 'the API key is invalid, expired or revoked');
      return principal;
    }
    const session = sessionCookie(headers);
    if (session !== undefined) {
      const principal = await this.verify(session, ['session']);
      if (!principal) throw new ZtkaError('unauthorized', 'the session has ended: log in again');
      if (!SAFE_METHODS.has(method)) {
        const sent = headers[CSRF_HEADER];
        const expected = Buffer.from(csrfTokenFor(session));
        if (
          typeof sent !== 'string' ||
          sent.length !== expected.length ||
          !timingSafeEqual(Buffer.from(sent), expected)
        )
          throw new ZtkaError(
            'forbidden',
            `a request authenticated by the session cookie must send ${CSRF_HEADER}`,
          );
      }
      return principal;
    }
    throw new ZtkaError('unauthorized', 'authentication required: log in or send an API key');
  }
}
