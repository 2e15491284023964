// Single sign-on with OpenID Connect: the login page's provider list, the browser's start and callback, the
// CLI's hand-off (loopback redirect) and device flow, and the org admin's provider settings. The controller
// is the relying party: the provider's tokens stay here, and people get ztka credentials only.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { randomBytes } from 'node:crypto';
import { SSO_EVENTS, ZtkaError, ssoConfirmationWords } from '@ztka/protocol';
import type { DeviceAuthorizationResponse } from 'openid-client';
import * as oidc from 'openid-client';
import { cookieValue, sessionSetCookie } from '../auth/authenticate.js';
import { personOf } from '../auth/sso/claims.js';
import type { SignedIn, SsoIdentities } from '../auth/sso/identities.js';
import type { SsoLogins } from '../auth/sso/logins.js';
import { OidcError, explain, type OidcClients, type TokenResult } from '../auth/sso/oidc.js';
import type { Provider, SsoProviderStore } from '../auth/sso/providers.js';
import { CLI_KEY_TTL_MS, SESSION_TTL_MS } from './auth-routes.js';
import type { ApiDeps } from './context.js';
import { Body, NameParams, errors } from './schemas.js';

export interface SsoServices {
  providers: SsoProviderStore;
  identities: SsoIdentities;
  logins: SsoLogins;
  clients: OidcClients;
}

/** The browser's login cookie: binds a callback to the browser that started the login (login CSRF). */
export const SSO_BROWSER_COOKIE = '__Host-ztka_sso';
export const SSO_CALLBACK_PATH = '/v1/auth/sso/callback';
const LOOPBACK_REDIRECT = /^http:\/\/(127\.0\.0\.1|\[::1\]):([1-9]\d{0,4})\/callback$/;
const UNREACHABLE = (provider: string) =>
  `${provider} cannot be reached just now: try again later, or tell an admin`;
/** Logins in progress at once, across the controller: beyond it, starts are refused until some finish. */
const MAX_PENDING_LOGINS = 10_000;
const PKCE_VALUE = /^[A-Za-z0-9_-]{43,128}$/;
/** How long one device-flow poll waits for the person before answering "still pending". */
const DEVICE_POLL_WAIT_MS = 20_000;

const StartQuery = Type.Object(
  {
    client: Type.Optional(Type.Union([Type.Literal('console'), Type.Literal('cli')])),
    redirect: Type.Optional(Type.String({ maxLength: 200 })),
    challenge: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
const CallbackQuery = Type.Object({
  state: Type.Optional(Type.String({ maxLength: 512 })),
  code: Type.Optional(Type.String({ maxLength: 4096 })),
  error: Type.Optional(Type.String({ maxLength: 200 })),
  error_description: Type.Optional(Type.String({ maxLength: 1000 })),
  iss: Type.Optional(Type.String({ maxLength: 500 })),
});
const ExchangeBody = Body({
  code: Type.String({ minLength: 1, maxLength: 200 }),
  codeVerifier: Type.String({ pattern: PKCE_VALUE.source }),
  keyName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});
const DeviceBody = Body({ keyName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) });
const PollBody = Body({ pollToken: Type.String({ minLength: 1, maxLength: 200 }) });
const ContinueQuery = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function confirmPage(
  reply: FastifyReply,
  username: string,
  provider: string,
  challenge: string,
  code: string,
) {
  const href = `/v1/auth/sso/cli/continue?code=${encodeURIComponent(code)}`;
  return reply
    .code(200)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    )
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ztka: sign in the CLI?</title></head>` +
        `<body style="font-family:sans-serif;max-width:36em;margin:3em auto">` +
        `<h1>Sign in the ztka CLI?</h1>` +
        `<p>You signed in with ${escapeHtml(provider)} as <strong>${escapeHtml(username)}</strong>. ` +
        `A ztka CLI on this computer asks for your access.</p>` +
        `<p>Continue only if you just ran <code>ztka login --sso</code> and your terminal shows ` +
        `<strong data-testid="cli-confirmation">${ssoConfirmationWords(challenge)}</strong>.</p>` +
        `<p><a href="${escapeHtml(href)}" data-testid="cli-continue">Continue</a> · <a href="/">Cancel</a></p>` +
        `</body></html>`,
    );
}

function browserSecretOf(req: FastifyRequest): string | undefined {
  const value = cookieValue(req.headers, SSO_BROWSER_COOKIE);
  return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined;
}

export function registerSsoRoutes(app: FastifyInstance, deps: ApiDeps, sso: SsoServices): void {
  const failed = async (
    req: FastifyRequest,
    orgId: string,
    provider: string | undefined,
    why: OidcError,
    subject?: string,
  ) => {
    await deps.events.record({
      kind: SSO_EVENTS.loginFailed,
      orgId,
      sourceIp: req.ip,
      detail: {
        ...(provider ? { provider } : {}),
        ...(subject ? { subject } : {}),
        reason: why.reason,
        message: why.message,
      },
    });
  };

  /** The person behind a provider's answer, signed in; records the login. Throws OidcError. */
  const signIn = async (
    req: FastifyRequest,
    provider: Provider,
    result: TokenResult,
    client: string,
  ): Promise<SignedIn> => {
    let subject: string | undefined = result.claims.sub;
    try {
      const person = personOf(result.claims, provider);
      subject = person.subject;
      const who = await sso.identities.signIn(provider, person, result.refreshToken);
      await deps.events.record({
        kind: SSO_EVENTS.login,
        orgId: who.orgId,
        actor: who.username,
        sourceIp: req.ip,
        detail: {
          provider: provider.name,
          subject: person.subject,
          client,
          providerGroups: person.providerGroups,
          groups: who.groups,
          ...(who.added.length > 0 ? { added: who.added } : {}),
          ...(who.removed.length > 0 ? { removed: who.removed } : {}),
          ...(who.created ? { created: true } : {}),
          refreshable: result.refreshToken !== undefined,
        },
      });
      return who;
    } catch (err) {
      if (err instanceof OidcError) await failed(req, provider.orgId, provider.name, err, subject);
      throw err;
    }
  };

  const apiKeyFor = async (userId: string, username: string, name: string) => {
    const key = await deps.credentials.issue(userId, 'api_key', {
      name,
      ttlMs: CLI_KEY_TTL_MS,
      issuedBy: { singleSignOn: true },
    });
    return { user: username, apiKey: { id: key.id, key: key.token, expiresAt: key.expiresAt } };
  };

  app.get('/v1/auth/sso/providers', { schema: { tags: ['auth'] } }, async () => ({
    items: await sso.providers.names(),
  }));

  app.get<{ Params: Static<typeof NameParams>; Querystring: Static<typeof StartQuery> }>(
    '/v1/auth/sso/:name/start',
    {
      schema: {
        tags: ['auth'],
        params: NameParams,
        querystring: StartQuery,
        response: errors(400, 404, 429),
      },
    },
    async (req, reply) => {
      await deps.limits.anonymous(req.ip);
      const provider = await sso.providers.named(req.params.name);
      const client = req.query.client ?? 'console';
      if (client === 'cli') {
        if (!req.query.redirect || !LOOPBACK_REDIRECT.test(req.query.redirect))
          throw new ZtkaError(
            'bad_request',
            'redirect must be an http URL on 127.0.0.1, [::1] or localhost',
            {
              field: '/redirect',
            },
          );
        if (!req.query.challenge || !PKCE_VALUE.test(req.query.challenge))
          throw new ZtkaError('bad_request', 'challenge must be an S256 PKCE challenge', {
            field: '/challenge',
          });
      }
      if ((await sso.logins.pending()) >= MAX_PENDING_LOGINS)
        throw new ZtkaError('too_many_requests', 'too many sign-ins in progress: try again in a minute', {
          retryAfterSeconds: 60,
        });
      const browserSecret = browserSecretOf(req) ?? randomBytes(32).toString('base64url');
      const checks = {
        state: oidc.randomState(),
        nonce: oidc.randomNonce(),
        verifier: oidc.randomPKCECodeVerifier(),
      };
      let url: URL;
      try {
        url = await sso.clients.authorizationUrl(provider, checks);
      } catch (err) {
        // The reason (addresses, TLS errors) is for the trail, not for whoever asked.
        await failed(req, provider.orgId, provider.name, explain(err));
        throw new ZtkaError('bad_gateway', UNREACHABLE(provider.displayName));
      }
      await sso.logins.start({
        providerId: provider.id,
        state: checks.state,
        browserSecret,
        nonce: checks.nonce,
        secret: checks.verifier,
        client,
        ...(client === 'cli' ? { cliRedirect: req.query.redirect, cliChallenge: req.query.challenge } : {}),
      });
      // Lax, not Strict: the cookie must come back on the provider's top-level redirect to the callback.
      reply.header(
        'set-cookie',
        `${SSO_BROWSER_COOKIE}=${browserSecret}; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax`,
      );
      return reply.redirect(url.href, 302);
    },
  );

  app.get<{ Querystring: Static<typeof CallbackQuery> }>(
    SSO_CALLBACK_PATH,
    { schema: { tags: ['auth'], querystring: CallbackQuery } },
    async (req, reply) => {
      await deps.limits.anonymous(req.ip);
      const toConsole = (message: string) =>
        reply.redirect(`/login?sso_error=${encodeURIComponent(message)}`, 302);
      const login = req.query.state
        ? await sso.logins.consume(req.query.state, browserSecretOf(req))
        : undefined;
      if (!login) {
        const why = new OidcError(
          'state_mismatch',
          'this sign-in is unknown, expired, already used or was started in another browser: start again',
        );
        await failed(req, deps.defaultOrgId, undefined, why);
        return toConsole(why.message);
      }
      const provider = await sso.providers.byId(login.providerId);
      const back = (message: string) =>
        login.client === 'cli' && login.cliRedirect
          ? reply.redirect(`${login.cliRedirect}?error=${encodeURIComponent(message)}`, 302)
          : toConsole(message);
      if (!provider) return back('the single sign-on provider was removed meanwhile');
      let result: TokenResult;
      try {
        if (req.query.error !== undefined)
          throw new OidcError(
            req.query.error.slice(0, 60),
            `the identity provider refused: ${req.query.error}` +
              (req.query.error_description ? `: ${req.query.error_description.slice(0, 200)}` : ''),
          );
        const callbackUrl = new URL(sso.clients.redirectUri);
        callbackUrl.search = new URL(req.url, 'https://callback.invalid').search;
        result = await sso.clients.redeem(provider, callbackUrl, {
          state: req.query.state ?? '',
          nonce: login.nonce,
          verifier: login.secret,
        });
      } catch (err) {
        const why = explain(err);
        await failed(req, provider.orgId, provider.name, why);
        return back(why.message);
      }
      let who: SignedIn;
      try {
        who = await signIn(req, provider, result, login.client);
      } catch (err) {
        if (err instanceof OidcError) return back(err.message);
        throw err;
      }
      if (login.client === 'cli' && login.cliRedirect) {
        // Not straight back to the loopback: a page anywhere can start a CLI login, and a person signed in
        // at the provider would finish it unseen. They confirm here, in this browser, that the CLI is theirs.
        const code = await sso.logins.handOff(login.id, who.userId);
        return confirmPage(reply, who.username, provider.displayName, login.cliChallenge ?? '', code);
      }
      const session = await deps.credentials.issue(who.userId, 'session', {
        name: String(req.headers['user-agent'] ?? 'console').slice(0, 200),
        ttlMs: SESSION_TTL_MS,
        issuedBy: { singleSignOn: true },
      });
      const expiresAt =
        session.expiresAt === null ? Date.now() + SESSION_TTL_MS : Date.parse(session.expiresAt);
      const maxAge = Math.max(1, Math.floor((expiresAt - Date.now()) / 1000));
      // The console asks whoami for its CSRF token, as a new tab does.
      reply.header('set-cookie', [
        sessionSetCookie(session.token, maxAge),
        `${SSO_BROWSER_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`,
      ]);
      return reply.redirect('/', 302);
    },
  );

  app.get<{ Querystring: Static<typeof ContinueQuery> }>(
    '/v1/auth/sso/cli/continue',
    { schema: { tags: ['auth'], querystring: ContinueQuery } },
    async (req, reply) => {
      await deps.limits.anonymous(req.ip);
      const loopback = await sso.logins.confirm(req.query.code, browserSecretOf(req));
      if (!loopback)
        return reply.redirect(
          `/login?sso_error=${encodeURIComponent('this sign-in is unknown, expired or already used: start again')}`,
          302,
        );
      return reply.redirect(`${loopback}?code=${encodeURIComponent(req.query.code)}`, 302);
    },
  );

  app.post<{ Body: Static<typeof ExchangeBody> }>(
    '/v1/auth/sso/exchange',
    { schema: { tags: ['auth'], body: ExchangeBody, response: errors(400, 401, 429) } },
    async (req) => {
      await deps.limits.anonymous(req.ip);
      const userId = await sso.logins.redeem(req.body.code, req.body.codeVerifier);
      const user = userId === undefined ? undefined : await deps.users.byId(userId);
      if (!user) {
        await failed(
          req,
          deps.defaultOrgId,
          undefined,
          new OidcError('handoff_refused', 'a CLI sign-in code was invalid, expired, used or not confirmed'),
        );
        throw new ZtkaError('unauthorized', 'the sign-in code is invalid, expired or already used');
      }
      return apiKeyFor(user.id, user.username, req.body.keyName ?? `cli sso login from ${req.ip}`);
    },
  );

  app.post<{ Params: Static<typeof NameParams>; Body: Static<typeof DeviceBody> }>(
    '/v1/auth/sso/:name/device',
    {
      schema: { tags: ['auth'], params: NameParams, body: DeviceBody, response: errors(400, 404, 429, 502) },
    },
    async (req) => {
      await deps.limits.anonymous(req.ip);
      const provider = await sso.providers.named(req.params.name);
      if (!provider.deviceFlow)
        throw new ZtkaError(
          'bad_request',
          `the device flow is off for ${provider.displayName}: log in with a browser, or ask an admin to turn it on`,
        );
      let device: DeviceAuthorizationResponse | undefined;
      try {
        device = await sso.clients.startDevice(provider);
      } catch (err) {
        await failed(req, provider.orgId, provider.name, explain(err));
        throw new ZtkaError('bad_gateway', UNREACHABLE(provider.displayName));
      }
      if (!device)
        throw new ZtkaError(
          'bad_request',
          `${provider.displayName} does not offer the device flow: use a browser`,
        );
      const pollToken = randomBytes(32).toString('base64url');
      await sso.logins.start({
        providerId: provider.id,
        state: pollToken,
        browserSecret: pollToken,
        nonce: '',
        secret: JSON.stringify({
          ...device,
          keyName: req.body.keyName ?? `cli sso device login from ${req.ip}`,
        }),
        client: 'device',
        ttlMs: Math.min(device.expires_in, 15 * 60) * 1000,
      });
      return {
        pollToken,
        userCode: device.user_code,
        verificationUri: device.verification_uri,
        ...(device.verification_uri_complete
          ? { verificationUriComplete: device.verification_uri_complete }
          : {}),
        intervalSeconds: device.interval ?? 5,
        expiresInSeconds: device.expires_in,
      };
    },
  );

  app.post<{ Body: Static<typeof PollBody> }>(
    '/v1/auth/sso/device/poll',
    { schema: { tags: ['auth'], body: PollBody, response: errors(400, 401, 429) } },
    async (req, reply) => {
      await deps.limits.anonymous(req.ip);
      const login = await sso.logins.device(req.body.pollToken);
      const provider = login && (await sso.providers.byId(login.providerId));
      if (!login || !provider)
        throw new ZtkaError(
          'unauthorized',
          'this device sign-in is unknown, expired or finished: start again',
        );
      const { keyName, ...device } = JSON.parse(login.secret) as DeviceAuthorizationResponse & {
        keyName: string;
      };
      const signal = AbortSignal.timeout(DEVICE_POLL_WAIT_MS);
      let result: TokenResult | undefined;
      try {
        result = await sso.clients.pollDevice(provider, device, signal);
      } catch (err) {
        const why = explain(err);
        await sso.logins.finishDevice(login.id);
        await failed(req, provider.orgId, provider.name, why);
        throw new ZtkaError('unauthorized', why.message);
      }
      if (!result) return reply.code(202).send({ pending: true });
      if (!(await sso.logins.finishDevice(login.id)))
        throw new ZtkaError('unauthorized', 'this device sign-in was already finished');
      try {
        const who = await signIn(req, provider, result, 'device');
        return await apiKeyFor(who.userId, who.username, keyName);
      } catch (err) {
        if (err instanceof OidcError) throw new ZtkaError('unauthorized', err.message);
        throw err;
      }
    },
  );
}
