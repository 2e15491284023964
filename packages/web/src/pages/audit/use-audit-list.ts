// One audit list with its pages: API calls and system events page by `nextCursor`; commands have no cursor,
// so "Load more" asks again for a larger `limit`.
import { useCallback, useEffect, useState } from 'react';
import { api } from '../../lib/api.js';
import { auditPath, auditQuery, type AuditFilters, type AuditList } from '../../lib/audit-query.js';
import type { Page } from '../../lib/types.js';

export const PAGE_SIZE = 100;
const MAX_LIMIT = 500;

interface State<T> {
  key: string;
  items: T[];
  nextCursor: string | undefined;
  limit: number;
  loading: boolean;
  error: unknown;
}

export interface AuditListResult<T> {
  items: T[];
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  loadMore(): void;
}

export function useAuditList<T>(list: AuditList, filters: AuditFilters, refresh: number): AuditListResult<T> {
  const query = auditQuery(list, filters);
  const key = JSON.stringify([list, query, refresh]);
  const [state, setState] = useState<State<T>>({
    key: '',
    items: [],
    nextCursor: undefined,
    limit: PAGE_SIZE,
    loading: true,
    error: undefined,
  });

  const fetchPage = useCallback(
    (k: string, limit: number, cursor: string | undefined, append: boolean, signal?: AbortSignal) => {
      const [, q] = JSON.parse(k) as [AuditList, Record<string, string>];
      setState((s) => ({ ...s, key: k, loading: true, error: undefined }));
      api.get<Page<T>>(auditPath(list), { ...q, limit, cursor }, signal).then(
        (page) =>
          setState((s) =>
            s.key !== k
              ? s
              : {
                  key: k,
                  items: append ? [...s.items, ...page.items] : page.items,
                  nextCursor: page.nextCursor,
                  limit,
                  loading: false,
                  error: undefined,
                },
          ),
        (error: unknown) => {
          if (signal?.aborted) return;
          setState((s) => (s.key !== k ? s : { ...s, loading: false, error }));
        },
      );
    },
    [list],
  );

  useEffect(() => {
    const ac = new AbortController();
    setState({ key, items: [], nextCursor: undefined, limit: PAGE_SIZE, loading: true, error: undefined });
    fetchPage(key, PAGE_SIZE, undefined, false, ac.signal);
    return () => ac.abort();
  }, [key, fetchPage]);

  const current = state.key === key ? state : { ...state, items: [], loading: true, nextCursor: undefined };
  const hasMore =
    list === 'commands'
      ? current.items.length >= current.limit && current.limit < MAX_LIMIT
      : current.nextCursor !== undefined;
  const loadMore = () => {
    if (current.loading || !hasMore) return;
    if (list === 'commands') fetchPage(key, Math.min(current.limit + PAGE_SIZE, MAX_LIMIT), undefined, false);
    else fetchPage(key, PAGE_SIZE, current.nextCursor, true);
  };
  return { items: current.items, loading: current.loading, error: current.error, hasMore, loadMore };
}
