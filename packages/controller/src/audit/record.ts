// What the audit trail holds: one record per proxied API call (two for a long-running one: its start and
// its end), per command line, and per system event; the record types are @ztka/protocol's, shared with the
// console and the CLI. The body is the record itself as canonical JSON; the indexed columns are derived
// from it in one place (`columnsOf`).
import type { AuditRecord } from '@ztka/protocol';
import type { AuditRecordsTable } from '../store/schema.js';

export type { ApiRecord, AuditRecord, CommandRecord, ObjectRef, SystemRecord } from '@ztka/protocol';

/** The longest summary kept in its column (the body keeps everything). */
const SUMMARY_MAX = 4096;

type Columns = Omit<AuditRecordsTable, 'org_id' | 'seq' | 'prev_hash' | 'hash' | 'body'>;

/** The filterable columns of a record: the one place they are derived from the body. */
export function columnsOf(r: AuditRecord): Columns {
  const none = {
    project: null,
    cluster: null,
    namespace: null,
    resource: null,
    verb: null,
    status: null,
    channel: null,
    session_id: null,
    kubectl_session: null,
  };
  switch (r.kind) {
    case 'api':
      return {
        ...none,
        id: r.id,
        kind: r.kind,
        at: r.at,
        stage: r.stage,
        username: r.user,
        project: r.project ?? null,
        cluster: r.cluster,
        namespace: r.objectRef?.namespace ?? null,
        resource: r.objectRef?.resource ?? null,
        verb: r.verb,
        status: r.status,
        channel: r.channel ?? null,
        session_id: r.sessionId ?? null,
        kubectl_session: r.kubectlSession ?? null,
        summary: `${r.method} ${r.requestURI}`.slice(0, SUMMARY_MAX),
      };
    case 'command':
      return {
        ...none,
        id: r.id,
        kind: r.kind,
        at: r.at,
        stage: 'ResponseComplete',
        username: r.user,
        project: r.project ?? null,
        cluster: r.cluster,
        channel: r.channel,
        session_id: r.sessionId ?? null,
        summary: r.command.slice(0, SUMMARY_MAX),
      };
    case 'system':
      return {
        ...none,
        id: r.id,
        kind: r.kind,
        at: r.at,
        stage: 'ResponseComplete',
        username: r.user,
        summary: `${r.event} ${canonicalJson(r.detail)}`.slice(0, SUMMARY_MAX),
      };
  }
}

/**
 * Canonical JSON: keys sorted at every level, so the same record always hashes the same way, whatever
 * order its fields were built in and whichever database returns it. Written out directly rather than
 * through a JSON.stringify replacer: this runs for every record on the proxy's path.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v !== undefined && typeof v !== 'function') parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}
