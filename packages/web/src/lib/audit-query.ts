// The audit page's state (tab, view, filters) as URL search parameters, and the API queries and export links
// built from it. Each list sends only the filters that apply to it, so a filter set on one view cannot hide
// every row of another.
import { AUDIT_FILTERS, type AuditFilterName } from '@ztka/protocol/audit';
import { withQuery } from './api.js';
import { localInputToIso } from './time.js';
import type { CommandEntry } from './types.js';

export type AuditTab = 'kubectl' | 'system';
export type KubectlView = 'api' | 'commands';
export type AuditList = 'api' | 'commands' | 'system';

export const TIME_RANGES = ['10m', '1h', '24h', '7d', 'all', 'custom'] as const;
export type TimeRange = (typeof TIME_RANGES)[number];
export const DEFAULT_RANGE: TimeRange = '24h';

/** The text filters, in the order they appear in the page's URL. */
export const FILTER_KEYS = AUDIT_FILTERS;
export type FilterKey = AuditFilterName;

export type AuditFilters = { range: TimeRange; since: string; until: string } & Record<FilterKey, string>;

export interface AuditState {
  tab: AuditTab;
  view: KubectlView;
  filters: AuditFilters;
}

/** The filters each list understands. */
export const FILTERS_OF: Record<AuditList, readonly FilterKey[]> = {
  api: FILTER_KEYS,
  commands: ['project', 'cluster', 'user', 'channel', 'q'],
  system: ['user', 'q'],
};

/** The export `kind` of each list. */
export const EXPORT_KIND: Record<AuditList, 'api' | 'command' | 'system'> = {
  api: 'api',
  commands: 'command',
  system: 'system',
};

export function emptyFilters(): AuditFilters {
  const f = { range: DEFAULT_RANGE, since: '', until: '' } as AuditFilters;
  for (const key of FILTER_KEYS) f[key] = '';
  return f;
}

export function listOf(state: Pick<AuditState, 'tab' | 'view'>): AuditList {
  return state.tab === 'system' ? 'system' : state.view;
}

const isRange = (v: string | null): v is TimeRange => TIME_RANGES.includes(v as TimeRange);

export function auditStateFromSearch(params: URLSearchParams): AuditState {
  const filters = emptyFilters();
  const last = params.get('last');
  if (isRange(last)) filters.range = last;
  filters.since = params.get('since') ?? '';
  filters.until = params.get('until') ?? '';
  if (!params.has('last') && (filters.since || filters.until)) filters.range = 'custom';
  for (const key of FILTER_KEYS) filters[key] = params.get(key) ?? '';
  return {
    tab: params.get('tab') === 'system' ? 'system' : 'kubectl',
    view: params.get('view') === 'commands' ? 'commands' : 'api',
    filters,
  };
}

export function auditStateToSearch(state: AuditState): URLSearchParams {
  const params = new URLSearchParams();
  if (state.tab !== 'kubectl') params.set('tab', state.tab);
  if (state.view !== 'api') params.set('view', state.view);
  const f = state.filters;
  if (f.range !== DEFAULT_RANGE) params.set('last', f.range);
  if (f.range === 'custom') {
    if (f.since) params.set('since', f.since);
    if (f.until) params.set('until', f.until);
  }
  for (const key of FILTER_KEYS) if (f[key].trim()) params.set(key, f[key].trim());
  return params;
}

/** The query parameters of one list (without limit and cursor). */
export function auditQuery(list: AuditList, f: AuditFilters): Record<string, string> {
  const q: Record<string, string> = {};
  if (f.range === 'custom') {
    const since = localInputToIso(f.since);
    const until = localInputToIso(f.until);
    if (since) q['since'] = since;
    if (until) q['until'] = until;
  } else if (f.range !== 'all') {
    q['last'] = f.range;
  }
  for (const key of FILTERS_OF[list]) {
    const value = f[key].trim();
    if (value) q[key] = value;
  }
  return q;
}

/** The list endpoint of a list. */
export function auditPath(list: AuditList): string {
  return `/v1/audit/${list}`;
}

/** A download link for the current list and filters; the session cookie authenticates it. */
export function exportHref(list: AuditList, f: AuditFilters, format: 'csv' | 'jsonl'): string {
  return withQuery('/v1/audit/export', { format, kind: EXPORT_KIND[list], ...auditQuery(list, f) });
}

/**
 * Where clicking a command leads: the API calls of that kubectl invocation (`kubectlSession`) or of that
 * browser shell session (`session`), keeping only the time range. Undefined when the entry names neither.
 */
export function drillDown(state: AuditState, entry: CommandEntry): AuditState | undefined {
  const filters = { ...emptyFilters(), range: state.filters.range, since: state.filters.since };
  filters.until = state.filters.until;
  if (entry.source === 'kubectl' && entry.kubectlSession) filters.kubectlSession = entry.kubectlSession;
  else if (entry.sessionId) filters.session = entry.sessionId;
  else return undefined;
  return { tab: 'kubectl', view: 'api', filters };
}
