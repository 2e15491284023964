// The audit trail's API: API calls, commands and system events with filters and cursor pages, newest
// first; verifying the chain, signed checkpoints of it; streamed exports. Nothing here writes to the trail:
// command lines are recorded in-process by the browser shell that read them (api/shell-socket.ts), never on a
// client's word.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AUDIT_FILTERS, DURATION_FORMS, DURATION_PATTERN, ZtkaError, parseDuration } from '@ztka/protocol';
import { exportRecords } from '../audit/export.js';
import type { AuditFilter, VerifyResult } from '../audit/query.js';
import { requireOrgReader, type ApiDeps } from './context.js';
import { Body, Label, PAGE_PARAMS, Username, errors, page } from './schemas.js';

/** Longer than any span the trail can hold (`36500d` is six characters), short of any number that overflows. */
const LAST_MAX_LENGTH = 16;

const FilterParams = {
  last: Type.Optional(
    Type.String({
      pattern: DURATION_PATTERN,
      maxLength: LAST_MAX_LENGTH,
      description: 'e.g. 10m, 1h, 24h, 7d, 1h30m, or seconds',
    }),
  ),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
  project: Type.Optional(Label),
  cluster: Type.Optional(Label),
  user: Type.Optional(Username),
  namespace: Type.Optional(Label),
  resource: Type.Optional(Type.String({ pattern: '^[a-z0-9.-]{1,253}$' })),
  verb: Type.Optional(Type.String({ pattern: '^[a-z]{1,32}$' })),
  status: Type.Optional(Type.String({ pattern: '^(?:[1-5]xx|[1-5]\\d\\d|0)$' })),
  channel: Type.Optional(Type.Union([Type.Literal('cli'), Type.Literal('web-shell')])),
  session: Type.Optional(Type.String({ maxLength: 128 })),
  kubectlSession: Type.Optional(Type.String({ maxLength: 128 })),
  q: Type.Optional(Type.String({ maxLength: 256 })),
};
const ListQuery = Type.Object({ ...FilterParams, ...PAGE_PARAMS }, { additionalProperties: false });
const ExportQuery = Type.Object(
  {
    ...FilterParams,
    format: Type.Union([Type.Literal('jsonl'), Type.Literal('csv')]),
    kind: Type.Optional(Type.Union([Type.Literal('api'), Type.Literal('command'), Type.Literal('system')])),
  },
  { additionalProperties: false },
);

const Checkpoint = Type.Object(
  {
    type: Type.Union([Type.Literal('head'), Type.Literal('prune')]),
    org: Type.String({ minLength: 1, maxLength: 512 }),
    seq: Type.Integer({ minimum: 0 }),
    hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    at: Type.Integer({ minimum: 0 }),
    keyId: Type.String({ minLength: 1, maxLength: 512 }),
    signature: Type.String({ minLength: 1, maxLength: 512 }),
  },
  { additionalProperties: false },
);
const VerifyBody = Body({ checkpoint: Checkpoint });

/** The verification as the API gives it: the last record's hash is for the checkpoint writer alone. */
function answer(v: VerifyResult): Omit<VerifyResult, 'head'> {
  const rest = { ...v };
  delete rest.head;
  return rest;
}

type FilterQuery = Partial<Record<keyof typeof FilterParams, string>>;

function filterOf(kind: AuditFilter['kind'], q: FilterQuery, now: number): AuditFilter {
  const f: AuditFilter = { kind };
  if (q.last !== undefined) {
    const last = parseDuration(q.last);
    // A span the filter cannot hold is refused, never dropped: dropping it would answer with the whole trail.
    if (last === undefined)
      throw new ZtkaError('bad_request', `last: use ${DURATION_FORMS}`, { field: '/last' });
    f.since = Math.max(0, now - last * 1000);
  }
  if (q.since) f.since = Date.parse(q.since);
  if (q.until) f.until = Date.parse(q.until);
  for (const key of AUDIT_FILTERS) {
    const value = q[key];
    if (value !== undefined) f[key] = value;
  }
  return f;
}

export function registerAuditRoutes(app: FastifyInstance, deps: ApiDeps): void {
  for (const kind of ['api', 'system'] as const) {
    app.get<{ Querystring: Static<typeof ListQuery> }>(
      `/v1/audit/${kind}`,
      { schema: { tags: ['audit'], querystring: ListQuery, response: errors(400, 401, 403) } },
      async (req) => {
        const c = await requireOrgReader(deps, req);
        const { limit } = page({ ...(req.query.limit ? { limit: req.query.limit } : {}) });
        return deps.auditQuery.page(
          c.principal.orgId,
          filterOf(kind, req.query, Date.now()),
          limit,
          req.query.cursor,
        );
      },
    );
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/v1/audit/commands',
    { schema: { tags: ['audit'], querystring: ListQuery, response: errors(400, 401, 403) } },
    async (req) => {
      const c = await requireOrgReader(deps, req);
      const { limit } = page({ ...(req.query.limit ? { limit: req.query.limit } : {}) });
      return deps.auditQuery.commands(c.principal.orgId, filterOf('command', req.query, Date.now()), limit);
    },
  );

  app.get(
    '/v1/audit/verify',
    { schema: { tags: ['audit'], response: errors(401, 403) } },
    async (req: FastifyRequest) => {
      const c = await requireOrgReader(deps, req);
      await deps.audit.drain();
      const { checkpoint, problem } = await deps.auditCheckpoints.latest(c.principal.orgId);
      if (problem)
        return { ok: false, checked: 0, firstBad: { seq: 0, problem: 'checkpoint', message: problem } };
      return answer(await deps.auditQuery.verify(c.principal.orgId, checkpoint));
    },
  );

  // Verified against a checkpoint the caller kept (`ztka audit checkpoint`, or a line of the checkpoint file).
  app.post<{ Body: Static<typeof VerifyBody> }>(
    '/v1/audit/verify',
    { schema: { tags: ['audit'], body: VerifyBody, response: errors(400, 401, 403) } },
    async (req) => {
      const c = await requireOrgReader(deps, req);
      await deps.audit.drain();
      return answer(await deps.auditQuery.verify(c.principal.orgId, req.body.checkpoint));
    },
  );

  app.post(
    '/v1/audit/checkpoint',
    { schema: { tags: ['audit'], response: errors(401, 403, 409) } },
    async (req: FastifyRequest) => {
      const c = await requireOrgReader(deps, req);
      await deps.audit.drain();
      return deps.auditCheckpoints.now(c.principal.orgId);
    },
  );

  app.get<{ Querystring: Static<typeof ExportQuery> }>(
    '/v1/audit/export',
    { schema: { tags: ['audit'], querystring: ExportQuery, response: errors(400, 401, 403) } },
    async (req, reply) => {
      const c = await requireOrgReader(deps, req);
      const filter = filterOf(req.query.kind ?? 'api', req.query, Date.now());
      const format = req.query.format;
      reply.raw.writeHead(200, {
        'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
        'content-disposition': `attachment; filename="ztka-audit-${filter.kind}.${format}"`,
      });
      reply.hijack();
      try {
        await exportRecords(deps.auditQuery.scan(c.principal.orgId, filter), format, reply.raw);
        reply.raw.end();
      } catch (err) {
        // Cut the connection rather than end it: a partial export must not look complete.
        req.log.error({ err }, 'audit export failed');
        reply.raw.destroy();
      }
    },
  );
}
