// The audit trail's filters as command-line options, and their query parameters (docs/api.md, "Audit
// records and filters"). Times are sent as ISO-8601 UTC; a duration such as `2h` means that long ago.
import { Option, type Command } from 'commander';
import { AUDIT_FILTERS, type AuditFilterName } from '@ztka/protocol';
import type { Query } from './client.js';
import { parseDuration } from './duration.js';
import { UsageError } from './errors.js';

export const DEFAULT_AUDIT_LIMIT = 50;

/** The API's text filters as options; free-text `q` is `--search`. */
export type AuditFilterOptions = { [name in Exclude<AuditFilterName, 'q'>]?: string } & {
  last?: string;
  since?: string;
  until?: string;
  search?: string;
};

/** Options passed to the API unchanged, under the query parameter named. */
const PLAIN: readonly (readonly [keyof AuditFilterOptions, string])[] = [
  ['last', 'last'],
  ...AUDIT_FILTERS.map((name) => [name === 'q' ? 'search' : name, name] as const),
];

/** Adds the filter options to `command`. */
export function addFilterOptions(command: Command): Command {
  return command
    .option('--last <duration>', 'only the most recent period: 10m, 1h, 24h, 7d')
    .option(
      '--since <time>',
      'from this time: ISO-8601 (UTC unless it names a zone) or a duration ago, e.g. 2h',
    )
    .option('--until <time>', 'up to this time: ISO-8601 or a duration ago')
    .option('--project <project>', 'only this project')
    .option('--cluster <cluster>', 'only this cluster')
    .option('--user <username>', 'only this user')
    .option('--namespace <namespace>', 'only this namespace')
    .option('--resource <resource>', 'only this resource, e.g. pods')
    .option('--verb <verb>', 'only this verb, e.g. delete')
    .option('--status <status>', 'only these answers: 2xx, 4xx, 5xx or a code')
    .addOption(new Option('--channel <channel>', 'only this channel').choices(['cli', 'web-shell']))
    .option('--session <id>', 'only this session')
    .option('--kubectl-session <id>', 'only the calls of this kubectl invocation')
    .option('--search <text>', 'free text in the request URI, command line or event');
}

// A calendar date, optionally a time of day, optionally a zone: what people paste and what ztka prints.
const ISO_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * `text` as an ISO-8601 UTC time: an ISO-8601 date or time (UTC when it names no zone, like the times ztka
 * shows), or a duration meaning that long before `now`.
 */
export function parseTime(option: string, text: string, now: number = Date.now()): string {
  const input = text.trim();
  const iso = ISO_TIME.exec(input);
  let ms = Number.NaN;
  if (iso !== null) {
    const [, date, time, zone] = iso;
    ms = Date.parse(`${date}T${time ?? '00:00'}${isoZone(zone)}`);
  } else {
    try {
      ms = now - parseDuration(input) * 1000;
    } catch {
      // Neither: reported below.
    }
  }
  const at = new Date(ms);
  if (Number.isNaN(at.getTime())) {
    throw new UsageError(
      `${option}: invalid time "${input}": use an ISO-8601 time like 2025-01-31T08:00:00Z or a duration ago like 2h`,
    );
  }
  return at.toISOString();
}

/** `+01`, `+0100`, `z` in the form Date.parse reads: `+01:00`, `Z`; no zone is UTC. */
function isoZone(zone: string | undefined): string {
  if (zone === undefined || zone.toUpperCase() === 'Z') return 'Z';
  const digits = zone.slice(1).replace(':', '');
  return `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2) || '00'}`;
}

/** How many records to show: a whole number from 1. */
export function parseLimit(text: string): number {
  const input = text.trim();
  const limit = /^\d+$/.test(input) ? Number(input) : Number.NaN;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new UsageError(`--limit: invalid number "${input}": use a whole number from 1`);
  }
  return limit;
}

/** The query parameters for `opts`; relative times are resolved against `now`. */
export function filterQuery(opts: AuditFilterOptions, now: number = Date.now()): Query {
  if (opts.last !== undefined && opts.since !== undefined)
    throw new UsageError('give --last or --since, not both');
  const query: Query = {};
  for (const [option, param] of PLAIN) {
    const value = opts[option];
    if (value !== undefined) query[param] = value;
  }
  if (opts.since !== undefined) query['since'] = parseTime('--since', opts.since, now);
  if (opts.until !== undefined) query['until'] = parseTime('--until', opts.until, now);
  const { since, until } = query;
  if (since !== undefined && until !== undefined && Date.parse(since) > Date.parse(until)) {
    throw new UsageError(`--since (${since}) is after --until (${until})`);
  }
  return query;
}
