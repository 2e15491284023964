// Login, logout and whoami. A console login gets a session cookie plus the CSRF token that must accompany
// its writes; a CLI login gets an API key. Failures say nothing about which part was wrong, cost the same
// time whether the user exists or not, are throttled per account and address, and are recorded. Once the
// password checks out, the org's login policy applies: single sign-on only (but for the break-glass user),
// and a TOTP code from whoever has one, or from everyone when the org requires it.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_ORG, ZtkaError } from '@ztka/protocol';
import { sessionSetCookie, bearerToken, csrfTokenFor, sessionCookie } from '../auth/authenticate.js';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from '../auth/passwords.js';
import { caller, type ApiDeps } from './context.js';
import { Body, Password, TotpCode, Username, errors } from './schemas.js';

export const SESSION_TTL_MS = 12 * 3600_000;
export const CLI_KEY_TTL_MS = 30 * 24 * 3600_000;
/** An enrolment token is for doing it now: long enough to install an authenticator app, no longer. */
export const TOTP_ENROLMENT_TTL_MS = 10 * 60_000;

const LoginBody = Body({
  username: Username,
  password: Password,
  client: Type.Optional(Type.Union([Type.Literal('console'), Type.Literal('cli')])),
  keyName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  totp: Type.Optional(TotpCode),
});

const invalidLogin = () => new ZtkaError('unauthorized', 'invalid username or password');

export function registerAuthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Body: Static<typeof LoginBody> }>(
    '/v1/auth/login',
    { schema: { tags: ['auth'], body: LoginBody, response: errors(400, 401, 403, 429) } },
    async (req, reply) => {
      const username = req.body.username.toLowerCase();
      // Unknown usernames are throttled like real ones: a 429 says nothing about whether an account exists.
      const admission = deps.throttle.admit(username, req.ip);
      if (!admission.admitted) {
        const retryAfterSeconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
        throw new ZtkaError(
          'too_many_requests',
          `too many failed logins: try again in ${retryAfterSeconds} s`,
          {
            retryAfterSeconds,
          },
        );
      }
      const user = await deps.users.find(username);
      const ok = await verifyPassword(req.body.password, user?.passwordHash ?? (await dummyHash()));
      const refuse = async (orgId: string, reason: string) =>
        deps.events.record({
          kind: 'login_failed',
          orgId,
          actor: username,
          sourceIp: req.ip,
          detail: { reason },
        });
      if (!user || !ok || user.disabled || user.passwordHash === null) {
        await refuse(
          user?.orgId ?? deps.defaultOrgId,
          !user ? 'unknown user' : !ok ? 'wrong password' : 'user disabled',
        );
        throw invalidLogin();
      }
      // Everything below is said only to someone who knows the password: without it, every account looks
      // the same, whatever the org's rules and whether or not it has TOTP.
      const issuedBy = { passwordHash: user.passwordHash };
      const settings = await deps.settings.get(user.orgId);
      const breakGlass = settings.ssoOnly && user.username === settings.breakGlassUser;
      if (settings.ssoOnly && !breakGlass) {
        await refuse(user.orgId, 'sso_only');
        throw new ZtkaError('forbidden', 'this organization signs in with single sign-on');
      }
      const totp = await deps.totp.state(user.id);
      if (totp === 'on') {
        const code = req.body.totp;
        if (code === undefined) {
          // The password was right: that attempt is not held against the account.
          admission.succeeded();
          throw new ZtkaError(
            'totp_required',
            'this account requires a two-factor code: send the 6-digit code from your authenticator app',
          );
        }
        // A wrong or replayed code stays counted as a failed login, like a wrong password.
        const check = await deps.totp.check(user.id, code);
        if (!check.ok) {
          await refuse(user.orgId, check.reason === 'wrong code' ? 'wrong totp code' : 'replayed totp code');
          throw new ZtkaError('unauthorized', 'the two-factor code is wrong or was already used');
        }
      } else if (settings.requireTotp) {
        admission.succeeded();
        const token = await deps.credentials.issue(user.id, 'totp_enrolment', {
          name: 'totp enrolment',
          ttlMs: TOTP_ENROLMENT_TTL_MS,
          issuedBy,
        });
        await deps.events.record({
          kind: 'totp_enrolment_required',
          orgId: user.orgId,
          actor: user.username,
          sourceIp: req.ip,
          detail: { credential: token.id },
        });
        throw new ZtkaError(
          'totp_enrolment_required',
          'this organization requires two-factor authentication: enrol an authenticator app with the ' +
            'enrolment token, then log in with a code',
          { enrolment: { enrolmentToken: token.token, expiresAt: token.expiresAt ?? '' } },
        );
      }
      admission.succeeded();
      let passwordHash = user.passwordHash;
      if (needsRehash(passwordHash)) {
        const stronger = await hashPassword(req.body.password);
        await deps.users.rehash(user, passwordHash, stronger);
        passwordHash = stronger;
      }
      issuedBy.passwordHash = passwordHash;

      const client = req.body.client ?? 'console';
      await deps.events.record({
        kind: 'login',
        orgId: user.orgId,
        actor: user.username,
        sourceIp: req.ip,
        detail: { client, ...(totp === 'on' ? { totp: true } : {}) },
      });
      if (breakGlass)
        await deps.events.record({
          kind: 'break_glass_login',
          orgId: user.orgId,
          actor: user.username,
          sourceIp: req.ip,
          detail: { client },
        });
      // Issued only while the password just checked is still the user's: a login that raced a password
      // change or a disable gets nothing.
      if (client === 'cli') {
        const key = await deps.credentials.issue(user.id, 'api_key', {
          name: req.body.keyName ?? `cli login from ${req.ip}`,
          ttlMs: CLI_KEY_TTL_MS,
          issuedBy,
        });
        return { user: user.username, apiKey: { id: key.id, key: key.token, expiresAt: key.expiresAt } };
      }
      const session = await deps.credentials.issue(user.id, 'session', {
        name: String(req.headers['user-agent'] ?? 'console').slice(0, 200),
        ttlMs: SESSION_TTL_MS,
        issuedBy,
      });
      reply.header('set-cookie', sessionSetCookie(session.token, SESSION_TTL_MS / 1000));
      return { user: user.username, csrfToken: csrfTokenFor(session.token), expiresAt: session.expiresAt };
    },
  );

  app.post(
    '/v1/auth/logout',
    { schema: { tags: ['auth'], response: errors(401, 403) } },
    async (req, reply) => {
      const c = await caller(deps, req);
      await deps.credentials.revoke(c.principal.credentialId);
      await deps.events.record({
        kind: 'logout',
        orgId: c.principal.orgId,
        actor: c.principal.username,
        sourceIp: req.ip,
        detail: { credential: c.principal.kind },
      });
      if (bearerToken(req.headers) === undefined && sessionCookie(req.headers) !== undefined)
        reply.header('set-cookie', sessionSetCookie('', 0));
      return reply.code(204).send();
    },
  );

  app.get('/v1/auth/whoami', { schema: { tags: ['auth'], response: errors(401) } }, async (req) => {
    const c = await caller(deps, req);
    const user = await deps.users.get(c.principal.orgId, c.principal.username);
    const { groups, totp } = await deps.users.view(user);
    const all = await deps.roles.list(c.principal.orgId, {});
    return {
      username: c.principal.username,
      org: DEFAULT_ORG,
      groups,
      totp,
      roles: all.filter(
        (a) => a.user === c.principal.username || (a.group !== undefined && groups.includes(a.group)),
      ),
      // A new console tab has the cookie but not the CSRF token that came with the login: it asks here.
      ...(bearerToken(req.headers) === undefined && sessionCookie(req.headers) !== undefined
        ? { csrfToken: csrfTokenFor(sessionCookie(req.headers) ?? '') }
        : {}),
      credential: {
        id: c.principal.credentialId,
        kind: c.principal.kind,
        expiresAt: c.principal.expiresAt === null ? null : new Date(c.principal.expiresAt).toISOString(),
      },
    };
  });
}
