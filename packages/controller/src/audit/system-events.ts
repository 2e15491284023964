// System events: logins, credential issue, and every administrative change, one row each. Written before
// the API answers, so an action the caller saw succeed is on record. Never holds a secret.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

export interface SystemEvent {
  kind: string;
  orgId?: string | null;
  actor?: string | null;
  sourceIp?: string | null;
  detail?: Record<string, unknown>;
}

export interface SystemEventView {
  id: string;
  at: string;
  kind: string;
  actor: string | null;
  sourceIp: string | null;
  detail: Record<string, unknown>;
}

export class SystemEvents {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number = Date.now,
  ) {}

  async record(event: SystemEvent): Promise<void> {
    await this.db
      .insertInto('system_events')
      .values({
        id: randomUUID(),
        org_id: event.orgId ?? null,
        at: this.clock(),
        kind: event.kind,
        actor: event.actor ?? null,
        source_ip: event.sourceIp ?? null,
        detail: JSON.stringify(event.detail ?? {}),
      })
      .execute();
  }

  /** Newest first. */
  async list(orgId: string, opts: { kind?: string; limit: number }): Promise<SystemEventView[]> {
    let query = this.db
      .selectFrom('system_events')
      .selectAll()
      .where((eb) => eb.or([eb('org_id', '=', orgId), eb('org_id', 'is', null)]));
    if (opts.kind !== undefined) query = query.where('kind', '=', opts.kind);
    const rows = await query.orderBy('at', 'desc').limit(opts.limit).execute();
    return rows.map((r) => ({
      id: r.id,
      at: new Date(Number(r.at)).toISOString(),
      kind: r.kind,
      actor: r.actor,
      sourceIp: r.source_ip,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
    }));
  }
}
