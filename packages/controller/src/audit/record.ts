// What the audit trail holds: one record per proxied API call (two for a long-running one: its start and
// its end), per command line, and per system event. The body is the record itself as canonical JSON; the
// indexed columns are derived from it in one place (`columnsOf`).
import type { AuditRecordsTable } from '../store/schema.js';

export interface ObjectRef {
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** One proxied kube API request, with the fields of an audit.k8s.io/v1 Event and ztka's own. */
export interface ApiRecord {
  kind: 'api';
  /** The controller's audit id, also sent to the cluster as `Audit-ID`. */
  id: string;
  stage: 'ResponseStarted' | 'ResponseComplete';
  /** Epoch ms the request arrived. */
  at: number;
  /** Epoch ms the response ended (ResponseComplete only). */
  endedAt?: number;
  /** The person (null when the credential was missing or invalid). */
  user: string | null;
  role?: string;
  project?: string;
  cluster: string;
  channel?: string;
  sessionId?: string;
  kubectlCommand?: string;
  kubectlSession?: string;
  method: string;
  requestURI: string;
  verb: string;
  objectRef?: ObjectRef;
  sourceIPs: string[];
  userAgent?: string;
  /** HTTP status given to the client (101 for an upgrade); 0 if none was. */
  status: number;
  /** Why ztka refused or failed the request. */
  reason?: string;
  bytes?: number;
  durationMs?: number;
  /** exec and attach: the command and container. */
  command?: string[];
  container?: string;
}

/** One command line, as the browser shell (or any client of the commands API) ran it. */
export interface CommandRecord {
  kind: 'command';
  id: string;
  at: number;
  user: string;
  project?: string;
  cluster: string;
  channel: string;
  sessionId?: string;
  command: string;
}

/** Logins, logouts, credential issue, administrative changes, agent connects. */
export interface SystemRecord {
  kind: 'system';
  id: string;
  at: number;
  event: string;
  user: string | null;
  sourceIp?: string;
  detail: Record<string, unknown>;
}

export type AuditRecord = ApiRecord | CommandRecord | SystemRecord;

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
