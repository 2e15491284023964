// Cursor pagination shared by every list: items sorted by a unique key; the cursor is the last key returned,
// opaque to clients (base64url) so the ordering can change without breaking them.
import { ZtkaError } from '@ztka/protocol';

export interface PageRequest {
  limit: number;
  /** The sort key after which to start, decoded from the client's cursor. */
  after: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 500;

export function pageRequest(query: { limit?: number; cursor?: string }): PageRequest {
  const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
  if (!query.cursor) return { limit, after: undefined };
  const after = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (after.length === 0 || Buffer.from(after, 'utf8').toString('base64url') !== query.cursor)
    throw new ZtkaError('bad_request', 'cursor is not one this server returned', { field: '/cursor' });
  return { limit, after };
}

/** Turns `limit + 1` rows fetched in key order into a page and the cursor for the next. */
export function toPage<T>(rows: T[], req: PageRequest, key: (row: T) => string): Page<T> {
  if (rows.length <= req.limit) return { items: rows };
  const items = rows.slice(0, req.limit);
  return { items, nextCursor: Buffer.from(key(items[items.length - 1] as T), 'utf8').toString('base64url') };
}

/** Pages a list already in memory (short lists: a user's credentials, a subject's assignments). */
export function pageOf<T>(items: readonly T[], req: PageRequest, key: (item: T) => string): Page<T> {
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const after = req.after;
  const rest = after === undefined ? sorted : sorted.filter((item) => key(item) > after);
  return toPage(rest.slice(0, req.limit + 1), req, key);
}
