// Exports, streamed record by record: API calls as audit.k8s.io/v1 Events (ztka's own fields as
// annotations, as the apiserver's audit backends carry theirs), other records as themselves; or CSV rows.
import { stringify } from 'csv-stringify';
import type { Writable } from 'node:stream';
import { columnsOf, type AuditRecord } from './record.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** An API record as the Event the cluster's own audit log would hold, plus who stood behind it. */
export function toKubeEvent(r: AuditRecord & { seq?: number }): object {
  if (r.kind !== 'api') return r;
  const annotations: Record<string, string> = { 'ztka.dev/cluster': r.cluster };
  const add = (key: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') annotations[`ztka.dev/${key}`] = String(value);
  };
  add('project', r.project);
  add('role', r.role);
  add('channel', r.channel);
  add('session-id', r.sessionId);
  add('kubectl-command', r.kubectlCommand);
  add('kubectl-session', r.kubectlSession);
  add('reason', r.reason);
  add('bytes', r.bytes);
  add('duration-ms', r.durationMs);
  add('container', r.container);
  if (r.command) add('command', JSON.stringify(r.command));
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: r.id,
    stage: r.stage,
    requestURI: r.requestURI,
    verb: r.verb,
    user: { username: r.user ?? 'system:anonymous' },
    sourceIPs: r.sourceIPs,
    ...(r.userAgent ? { userAgent: r.userAgent } : {}),
    ...(r.objectRef ? { objectRef: r.objectRef } : {}),
    responseStatus: { metadata: {}, code: r.status },
    requestReceivedTimestamp: iso(r.at),
    stageTimestamp: iso(r.endedAt ?? r.at),
    annotations,
  };
}

export const CSV_COLUMNS = [
  'seq',
  'at',
  'kind',
  'stage',
  'user',
  'project',
  'cluster',
  'namespace',
  'resource',
  'verb',
  'status',
  'channel',
  'session',
  'kubectl_session',
  'summary',
] as const;

function csvRow(r: AuditRecord & { seq: number }): string[] {
  const c = columnsOf(r);
  const text = (v: string | number | null) => (v === null ? '' : String(v));
  return [
    String(r.seq),
    iso(c.at),
    c.kind,
    c.stage,
    text(c.username),
    text(c.project),
    text(c.cluster),
    text(c.namespace),
    text(c.resource),
    text(c.verb),
    text(c.status),
    text(c.channel),
    text(c.session_id),
    text(c.kubectl_session),
    c.summary,
  ];
}

/** Writes every record to `out` in the format, honouring backpressure; resolves when done. */
export async function exportRecords(
  records: AsyncIterable<AuditRecord & { seq: number }>,
  format: 'jsonl' | 'csv',
  out: Writable,
): Promise<void> {
  const write = async (chunk: string) => {
    if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
  };
  if (format === 'jsonl') {
    for await (const r of records) await write(`${JSON.stringify(toKubeEvent(r))}\n`);
    return;
  }
  // A spreadsheet would run a cell starting with = + - @ as a formula: such cells get a leading quote.
  const csv = stringify({
    header: true,
    columns: [...CSV_COLUMNS],
    cast: { string: (v) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v) },
  });
  csv.on('data', (chunk: Buffer) => void out.write(chunk));
  for await (const r of records) {
    if (!csv.write(csvRow(r))) await new Promise((resolve) => csv.once('drain', resolve));
  }
  await new Promise<void>((resolve, reject) => {
    csv.once('end', resolve);
    csv.once('error', reject);
    csv.end();
  });
}
