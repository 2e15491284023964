// A person's TOTP second factor: enrol (a seed, pending until a first code confirms it), remove it with a
// current code, and an org ADMIN's reset for someone who lost their device. Enrolling is open to a logged-in
// person and to the holder of an enrolment token (what a login gets when the org requires TOTP of someone
// who has none yet); that token opens nothing else.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static } from '@sinclair/typebox';
import { ZtkaError } from '@ztka/protocol';
import { bearerToken } from '../auth/authenticate.js';
import { kindOfToken } from '../auth/credentials.js';
import { caller, recordAction, requireOrgAdmin, type ApiDeps } from './context.js';
import { Body, TotpCode, UsernameParams, errors } from './schemas.js';

const CodeBody = Body({ code: TotpCode });

interface Enrolling {
  userId: string;
  username: string;
  orgId: string;
  /** The enrolment token the request came with, used up by a confirmation. */
  enrolmentCredentialId?: string;
}

/** The person enrolling: the holder of a live enrolment token, or an authenticated caller. */
async function enrolling(deps: ApiDeps, req: FastifyRequest): Promise<Enrolling> {
  const bearer = bearerToken(req.headers);
  if (bearer === undefined || kindOfToken(bearer) !== 'totp_enrolment') {
    const { principal } = await caller(deps, req);
    return { userId: principal.userId, username: principal.username, orgId: principal.orgId };
  }
  const principal = await deps.credentials.verify(bearer, ['totp_enrolment']);
  if (!principal) {
    await deps.limits.anonymous(req.ip);
    throw new ZtkaError('unauthorized', 'the enrolment token is invalid, expired or used: log in again');
  }
  await deps.limits.person(principal.userId);
  return {
    userId: principal.userId,
    username: principal.username,
    orgId: principal.orgId,
    enrolmentCredentialId: principal.credentialId,
  };
}

const wrongCode = (status: 'bad_request' | 'forbidden') =>
  new ZtkaError(status, 'the code is wrong or was already used: enter the current one from your app', {
    field: '/code',
  });

export function registerTotpRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const record = (req: FastifyRequest, who: Enrolling, kind: string, detail: Record<string, unknown> = {}) =>
    deps.events.record({ kind, orgId: who.orgId, actor: who.username, sourceIp: req.ip, detail });

  app.post(
    '/v1/auth/totp',
    { schema: { tags: ['auth'], response: errors(400, 401, 409) } },
    async (req, reply) => {
      const who = await enrolling(deps, req);
      const user = await deps.users.get(who.orgId, who.username);
      if (user.passwordHash === null)
        throw new ZtkaError(
          'bad_request',
          'two-factor authentication guards password logins, and you have no password',
        );
      const enrolment = await deps.totp.begin(user.id, user.username);
      await record(req, who, 'totp_enrolment_started');
      return reply.code(201).send(enrolment);
    },
  );

  app.post<{ Body: Static<typeof CodeBody> }>(
    '/v1/auth/totp/confirm',
    { schema: { tags: ['auth'], body: CodeBody, response: errors(400, 401, 409) } },
    async (req, reply) => {
      const who = await enrolling(deps, req);
      const state = await deps.totp.state(who.userId);
      if (state !== 'pending')
        throw new ZtkaError(
          'conflict',
          state === 'on'
            ? 'two-factor authentication is already on for you'
            : 'no enrolment to confirm: start one with POST /v1/auth/totp',
        );
      const check = await deps.totp.confirm(who.userId, req.body.code);
      if (!check.ok) throw wrongCode('bad_request');
      if (who.enrolmentCredentialId !== undefined)
        await deps.credentials.revoke(who.enrolmentCredentialId, who.userId);
      await record(req, who, 'totp_enrolled');
      return reply.code(204).send();
    },
  );

  // Whoever holds a session or key of the person could otherwise drop the factor that guards their
  // password, so removal takes a current code; guesses count as failed logins.
  app.delete<{ Body: Static<typeof CodeBody> }>(
    '/v1/auth/totp',
    { schema: { tags: ['auth'], body: CodeBody, response: errors(400, 401, 403, 404, 429) } },
    async (req, reply) => {
      const c = await caller(deps, req);
      const who = { userId: c.principal.userId, username: c.principal.username, orgId: c.principal.orgId };
      if ((await deps.totp.state(who.userId)) !== 'on')
        throw new ZtkaError('not_found', 'two-factor authentication is not on for you');
      const admission = deps.throttle.admit(who.username, req.ip);
      if (!admission.admitted) {
        const retryAfterSeconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
        throw new ZtkaError(
          'too_many_requests',
          `too many wrong codes: try again in ${retryAfterSeconds} s`,
          {
            retryAfterSeconds,
          },
        );
      }
      const check = await deps.totp.check(who.userId, req.body.code);
      if (!check.ok) {
        await record(req, who, 'totp_removal_refused', { reason: check.reason });
        throw wrongCode('forbidden');
      }
      admission.succeeded();
      await deps.totp.remove(who.userId);
      await record(req, who, 'totp_removed');
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: Static<typeof UsernameParams> }>(
    '/v1/users/:username/totp',
    { schema: { tags: ['users'], params: UsernameParams, response: errors(401, 403, 404) } },
    async (req, reply) => {
      const c = await requireOrgAdmin(deps, req);
      const user = await deps.users.get(c.principal.orgId, req.params.username);
      if (!(await deps.totp.remove(user.id)))
        throw new ZtkaError(
          'not_found',
          `user ${JSON.stringify(user.username)} has no two-factor authentication`,
        );
      await recordAction(deps, req, c, 'totp_reset', { user: user.username });
      return reply.code(204).send();
    },
  );
}
