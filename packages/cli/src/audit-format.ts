// Tables for the audit trail. Audit records carry text chosen by whoever made the request (command lines of
// up to 1 MiB, request URIs, event details), so every cell is made safe for one terminal line and cut short;
// JSON and YAML output carry the records whole.
import type { ApiRecord, AuditVerification, CommandView, SystemRecord } from '@ztka/protocol';
import { cell, INVISIBLE, type Column } from './output.js';

/** The widest a free-text cell (command line, event detail) is shown in a table. */
export const TEXT_CELL_MAX = 100;
/** The widest a resource path or request URI is shown. */
export const RESOURCE_CELL_MAX = 80;
/** The widest any other cell (user, cluster, event name) is shown. */
export const NAME_CELL_MAX = 64;
/** The server-derived operations of a command. */
const OPERATIONS_CELL_MAX = 60;

const ELLIPSIS = '…';

/**
 * `value` as one safe table cell of at most `max` characters: control characters and invisible marks shown
 * as `?`, line breaks as spaces, and `…` where it was cut; `-` when empty.
 */
export function textCell(value: unknown, max: number): string {
  if (value === undefined || value === null || value === '') return '-';
  const text = String(value);
  // Only the start of a huge value can be shown: look at a prefix with room for collapsed line breaks.
  const window = max * 4 + 64;
  const shown = cell(cutAt(text, window)).replace(INVISIBLE, '?');
  if (shown.length <= max && text.length <= window) return shown === '' ? '-' : shown;
  return cutAt(shown, max - 1).trimEnd() + ELLIPSIS;
}

/** The first `length` UTF-16 units of `text`, without splitting a surrogate pair. */
function cutAt(text: string, length: number): string {
  if (text.length <= length) return text;
  const code = text.charCodeAt(length - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}

/** An audit time (epoch ms, or an ISO string) as UTC ISO-8601 to the second: `2025-01-31T08:00:00Z`. */
export function auditTime(at: unknown): string {
  let ms = Number.NaN;
  if (typeof at === 'number') ms = at;
  else if (typeof at === 'string' && at !== '') ms = /^\d+$/.test(at) ? Number(at) : Date.parse(at);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return textCell(at, NAME_CELL_MAX);
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * What an API call touched: `[namespace/]resource[/name][/subresource]`, e.g. `default/pods/web-0/exec`;
 * the request URI for a call that names no resource (`/version`, `/healthz`).
 */
export function auditResource(r: Pick<ApiRecord, 'objectRef' | 'requestURI'>): string {
  const ref = r.objectRef;
  if (typeof ref?.resource === 'string' && ref.resource !== '') {
    return [ref.namespace, ref.resource, ref.name, ref.subresource]
      .filter((part): part is string => typeof part === 'string' && part !== '')
      .join('/');
  }
  return r.requestURI ?? '';
}

function milliseconds(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${Math.round(value)}ms` : '-';
}

/** A system event's detail as compact JSON. */
function compactJson(value: unknown): string {
  if (value === undefined) return '';
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

const name = (value: unknown): string => textCell(value, NAME_CELL_MAX);

export const API_COLUMNS: readonly Column<ApiRecord>[] = [
  { header: 'TIME', value: (r) => auditTime(r.at) },
  { header: 'USER', value: (r) => name(r.user) },
  { header: 'CLUSTER', value: (r) => name(r.cluster) },
  { header: 'VERB', value: (r) => name(r.verb) },
  { header: 'RESOURCE', value: (r) => textCell(auditResource(r), RESOURCE_CELL_MAX) },
  { header: 'STATUS', value: (r) => name(r.status) },
  { header: 'CHANNEL', value: (r) => name(r.channel) },
  { header: 'STAGE', value: (r) => name(r.stage) },
  { header: 'DURATION', value: (r) => milliseconds(r.durationMs) },
];

export const COMMAND_COLUMNS: readonly Column<CommandView>[] = [
  { header: 'TIME', value: (c) => auditTime(c.at) },
  { header: 'USER', value: (c) => name(c.user) },
  { header: 'CLUSTER', value: (c) => name(c.cluster) },
  { header: 'CHANNEL', value: (c) => name(c.channel) },
  { header: 'SOURCE', value: (c) => name(c.source) },
  { header: 'CALLS', value: (c) => name(c.calls) },
  // What the server derived from the requests, beside what the client said it was running.
  { header: 'SERVER SAW', value: (c) => textCell((c.operations ?? []).join(', '), OPERATIONS_CELL_MAX) },
  {
    header: 'COMMAND',
    // Only a line the server read itself goes unmarked: anything else is the client's word.
    value: (c) =>
      textCell(
        c.clientReported !== false
          ? `(client-reported) ${c.command ?? ''}`
          : c.refused !== undefined
            ? `(refused: ${c.refused}) ${c.command ?? ''}`
            : c.command,
        TEXT_CELL_MAX,
      ),
  },
];

export const SYSTEM_COLUMNS: readonly Column<SystemRecord>[] = [
  { header: 'TIME', value: (e) => auditTime(e.at) },
  { header: 'EVENT', value: (e) => name(e.event) },
  { header: 'USER', value: (e) => name(e.user) },
  { header: 'SOURCE IP', value: (e) => name(e.sourceIp) },
  { header: 'DETAIL', value: (e) => textCell(compactJson(e.detail), TEXT_CELL_MAX) },
];

/** A verification as the CLI reads it: whatever a server leaves out is shown as unknown, not an error. */
type VerificationAnswer = Partial<Omit<AuditVerification, 'firstBad'>> & {
  firstBad?: Partial<NonNullable<AuditVerification['firstBad']>>;
};

/** `audit trail verified: 1234 records, up to and past the signed checkpoint …`, for a check that held. */
export function verifiedMessage(result: VerificationAnswer): string {
  const text = `audit trail verified: ${result.checked ?? 0} records`;
  const a = result.anchor;
  if (typeof a?.seq !== 'number') return `${text} (no signed checkpoint yet)`;
  const at = typeof a.at === 'number' ? ` of ${new Date(a.at).toISOString()}` : '';
  return `${text}, up to and past the signed checkpoint${at} (record ${a.seq})`;
}

/** `audit trail broken at record 42 (a1b2…): record was modified`, for a failed check. */
export function brokenTrailMessage(result: VerificationAnswer): string {
  const bad = result.firstBad;
  if (bad === undefined || bad === null) return 'audit trail broken';
  const seq = typeof bad.seq === 'number' || typeof bad.seq === 'string' ? String(bad.seq) : '?';
  const id = typeof bad.id === 'string' && bad.id !== '' ? ` (${bad.id})` : '';
  const why = bad.message ?? bad.problem;
  return `audit trail broken at record ${seq}${id}${typeof why === 'string' && why !== '' ? `: ${why}` : ''}`;
}
