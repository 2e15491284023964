// The REST client: same-origin JSON calls with the session cookie, X-CSRF-Token on every write, one error
// type for every failure, and a hook that sends the app to the login page on any 401.
import { csrfToken, setCsrfToken } from './session.js';
import type { Page } from './types.js';

export type Query = Record<string, string | number | boolean | undefined | null>;

/** What a login refused with `totp_enrolment_required` hands over: a token that only enrols. */
export interface EnrolmentGrant {
  enrolmentToken: string;
  expiresAt: string;
}

/** An API failure: the server's `{code, message, field?}`, or `network` when no answer came. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly enrolment: EnrolmentGrant | undefined;

  constructor(status: number, code: string, message: string, field?: string, enrolment?: EnrolmentGrant) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.enrolment = enrolment;
  }
}

/** A readable message for anything thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

let unauthorizedHandler: (() => void) | undefined;

/** Called whenever a request is answered 401 (the session expired, was revoked, or never was). */
export function onUnauthorized(handler: (() => void) | undefined): void {
  unauthorizedHandler = handler;
}

/** `path?query`, leaving out empty values. */
export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Encodes one path segment (a name from the user or the API). */
export const seg = (value: string): string => encodeURIComponent(value);

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Query;
  body?: unknown;
  /** `text` for the YAML endpoints. */
  as?: 'json' | 'text';
  /** The login and first whoami answer 401 without it meaning "go to the login page". */
  quiet401?: boolean;
  /** A bearer credential instead of the session: the enrolment token of a login held back for TOTP. */
  bearer?: string;
  signal?: AbortSignal;
}

async function failure(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`.trim();
  let field: string | undefined;
  let enrolment: EnrolmentGrant | undefined;
  try {
    const body: unknown = await res.json();
    if (body && typeof body === 'object') {
      const b = body as Record<string, unknown>;
      if (typeof b['code'] === 'string') code = b['code'];
      if (typeof b['message'] === 'string' && b['message']) message = b['message'];
      if (typeof b['field'] === 'string') field = b['field'];
      const { enrolmentToken, expiresAt } = b;
      if (typeof enrolmentToken === 'string' && typeof expiresAt === 'string')
        enrolment = { enrolmentToken, expiresAt };
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message, field, enrolment);
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: opts.as === 'text' ? '*/*' : 'application/json' };
  if (opts.bearer !== undefined) headers['authorization'] = `Bearer ${opts.bearer}`;
  else if (method !== 'GET') {
    const token = csrfToken();
    if (token) headers['x-csrf-token'] = token;
    else if (!path.startsWith('/v1/auth/'))
      // The cookie is shared by every tab, the CSRF token only by the tab that signed in (and its reloads).
      throw new ApiError(403, 'csrf_missing', 'This tab cannot make changes: sign out and sign in again.');
  }
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', `the controller did not answer: ${errorMessage(err)}`);
  }
  if (!res.ok) {
    const err = await failure(res);
    if (res.status === 401 && !opts.quiet401) {
      setCsrfToken(undefined);
      unauthorizedHandler?.();
    }
    throw err;
  }
  if (res.status === 204) return undefined as T;
  if (opts.as === 'text') return (await res.text()) as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) =>
    request<T>(path, { ...(query ? { query } : {}), ...(signal ? { signal } : {}) }),
  text: (path: string, opts: Omit<RequestOptions, 'as'> = {}) =>
    request<string>(path, { ...opts, as: 'text' }),
  post: <T>(path: string, body?: unknown) => request<T>(path, { method: 'POST', body }),
  put: <T>(path: string, body?: unknown) => request<T>(path, { method: 'PUT', body }),
  patch: <T>(path: string, body?: unknown) => request<T>(path, { method: 'PATCH', body }),
  del: <T = void>(path: string, body?: unknown) =>
    request<T>(path, { method: 'DELETE', ...(body === undefined ? {} : { body }) }),
};

/** Every item of a list endpoint, following `nextCursor` (bounded, so a huge org cannot hang the page). */
export async function listAll<T>(path: string, query: Query = {}, maxPages = 20): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const page = await api.get<Page<T>>(path, { ...query, limit: 500, cursor });
    items.push(...page.items);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return items;
}
