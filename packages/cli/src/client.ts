// The controller's REST API over node:https (node:http for a loopback http:// server in tests and demos),
// with the CA from the config and the stored API key. Failures become one-line CliErrors: the API's own
// message, or which server could not be reached and why. Answers are buffered, except for `stream`, which
// hands a large body (an audit export) on as it arrives.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { PRODUCT_VERSION, type TotpEnrolmentGrant } from '@ztka/protocol';
import { CliError, oneLine } from './errors.js';

export const DEFAULT_TIMEOUT_MS = 30_000;
// Far above any real answer (a kubeconfig for thousands of clusters is a few MB); bounds memory if not.
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
// An error answer is one short JSON object; what a streamed request reads of one is bounded by this.
const MAX_ERROR_BYTES = 1024 * 1024;
export const PAGE_LIMIT = 500;

/** An error answer from the API: `{code, message, field?}` with its HTTP status. */
export class ApiError extends CliError {
  override name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** What a `totp_enrolment_required` login refusal hands over to enrol with. */
    readonly enrolment?: TotpEnrolmentGrant,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  server: string;
  ca?: string | undefined;
  /** Sent as `Authorization: Bearer`; absent for login. */
  apiKey?: string | undefined;
  timeoutMs?: number;
}

export interface Response {
  status: number;
  contentType: string;
  body: string;
}

export type Query = Record<string, string | undefined>;

interface Prepared {
  url: URL;
  headers: Record<string, string>;
  payload: string | undefined;
}

// Node's error codes are precise but cryptic; say what they mean and, for TLS, what to do about it.
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPROTO: 'TLS handshake failed (is it an https server?)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is not trusted (self-signed); log in with --ca-file',
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate is not trusted; log in with --ca-file',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate is not trusted; log in with --ca-file',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its certificate is not trusted; log in with --ca-file',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate does not name this host',
};

/** Why a connection failed, in words: `connection reset`, `its certificate has expired`. */
export function networkReason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return oneLine((code !== undefined ? NETWORK_REASONS[code] : undefined) ?? err.message);
}

function networkError(server: string, err: Error): CliError {
  return new CliError(`cannot reach ${server}: ${networkReason(err)}`, 1, { cause: err });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function apiError(res: Response): ApiError {
  let data: unknown;
  try {
    data = JSON.parse(res.body);
  } catch {
    // Not the API's error shape: a proxy or load balancer in between answered.
  }
  if (isRecord(data) && typeof data['message'] === 'string') {
    const code = typeof data['code'] === 'string' ? data['code'] : 'unknown';
    const field = typeof data['field'] === 'string' ? data['field'] : undefined;
    const { enrolmentToken, expiresAt } = data;
    const enrolment =
      typeof enrolmentToken === 'string' && typeof expiresAt === 'string'
        ? { enrolmentToken, expiresAt }
        : undefined;
    return new ApiError(res.status, code, oneLine(data['message']), field, enrolment);
  }
  const reason = http.STATUS_CODES[res.status] ?? 'error';
  return new ApiError(res.status, 'unknown', `the server answered ${res.status} ${reason}`);
}

export class Client {
  readonly server: string;
  readonly #ca: string | undefined;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions) {
    this.server = options.server;
    this.#ca = options.ca;
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** One request; any non-2xx answer is thrown as an ApiError. */
  async request(
    method: string,
    path: string,
    options: { body?: unknown; query?: Query; accept?: string } = {},
  ): Promise<Response> {
    const { url, headers, payload } = this.#prepare(path, options);
    const res = await this.#send(url, method, headers, payload);
    if (res.status >= 200 && res.status <= 299) return res;
    throw this.#failure(res);
  }

  /**
   * A GET whose body is handed on unread, for answers too large to hold (an audit export). Any non-2xx
   * answer is thrown as an ApiError, as `request` does. The deadline covers the wait for the answer; after
   * that, the body fails when no data arrives for as long, not counting time the reader holds it paused.
   */
  async stream(path: string, options: { query?: Query; accept?: string } = {}): Promise<Readable> {
    const { url, headers } = this.#prepare(path, options);
    let timer: NodeJS.Timeout | undefined;
    let answer: http.IncomingMessage | undefined;
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = this.#dispatch(url, 'GET', headers, (r) => resolve((answer = r)));
        // Until cleared, the deadline also covers reading an error answer.
        timer = setTimeout(() => (answer ?? req).destroy(this.#deadline()), this.#timeoutMs);
        req.on('error', (err) => reject(networkError(this.server, err)));
        req.end();
      });
      const status = res.statusCode ?? 0;
      if (status >= 200 && status <= 299) {
        clearTimeout(timer);
        this.#watchIdle(res);
        return res;
      }
      let body: string;
      try {
        body = await readAtMost(res, MAX_ERROR_BYTES);
      } catch (err) {
        throw networkError(this.server, err instanceof Error ? err : new Error(String(err)));
      }
      throw this.#failure({ status, contentType: res.headers['content-type'] ?? '', body });
    } finally {
      clearTimeout(timer);
    }
  }

  async json<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const options: { body?: unknown; query?: Query } = {};
    if (body !== undefined) options.body = body;
    if (query !== undefined) options.query = query;
    const res = await this.request(method, path, options);
    if (res.body === '') return undefined as T;
    try {
      return JSON.parse(res.body) as T;
    } catch {
      throw new CliError(`the server at ${this.server} sent an invalid JSON answer to ${method} ${path}`);
    }
  }

  /** Every item of a paginated list, following `nextCursor` to the last page. */
  listAll<T>(path: string, query: Query = {}): Promise<T[]> {
    return this.list<T>(path, query, Infinity);
  }

  /**
   * The first `max` items of a paginated list, following `nextCursor` in pages of up to PAGE_LIMIT until
   * it has them or the list ends.
   */
  async list<T>(path: string, query: Query, max: number): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    while (items.length < max) {
      const page = await this.json<{ items?: unknown; nextCursor?: unknown }>('GET', path, undefined, {
        ...query,
        limit: String(Math.min(PAGE_LIMIT, max - items.length)),
        cursor,
      });
      if (!isRecord(page) || !Array.isArray(page.items)) {
        throw new CliError(`the server at ${this.server} sent an invalid list for ${path}`);
      }
      items.push(...(page.items as T[]));
      if (typeof page.nextCursor !== 'string' || page.nextCursor === '') break;
      // A server that hands out the same cursor twice would keep us here forever.
      if (seen.has(page.nextCursor)) {
        throw new CliError(`the server at ${this.server} repeated a list cursor for ${path}`);
      }
      seen.add(page.nextCursor);
      cursor = page.nextCursor;
    }
    // A server may send more than it was asked for; the caller asked for `max`.
    return items.length > max ? items.slice(0, max) : items;
  }

  #prepare(path: string, options: { body?: unknown; query?: Query; accept?: string }): Prepared {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = {
      accept: options.accept ?? 'application/json',
      'user-agent': `ztka-cli/${PRODUCT_VERSION}`,
    };
    if (this.#apiKey !== undefined) headers['authorization'] = `Bearer ${this.#apiKey}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return { url, headers, payload };
  }

  /** The error for a non-2xx answer. */
  #failure(res: Response): ApiError {
    const err = apiError(res);
    // The stored key is expired, revoked or its user disabled: only a new login helps.
    if (err.status === 401 && this.#apiKey !== undefined) {
      return new ApiError(err.status, err.code, `${err.message} (run ztka login again)`, err.field);
    }
    return err;
  }

  /** Starts a request over https with the configured CA, or plain http. */
  #dispatch(
    url: URL,
    method: string,
    headers: Record<string, string>,
    onResponse: (res: http.IncomingMessage) => void,
  ): http.ClientRequest {
    return url.protocol === 'https:'
      ? https.request(
          url,
          { method, headers, ...(this.#ca !== undefined ? { ca: this.#ca } : {}) },
          onResponse,
        )
      : http.request(url, { method, headers }, onResponse);
  }

  #deadline(): Error {
    return new Error(`no answer within ${this.#timeoutMs / 1000}s`);
  }

  /** Fails `res` when no data arrives for the timeout while it is being read. */
  #watchIdle(res: http.IncomingMessage): void {
    let timer: NodeJS.Timeout | undefined;
    let watching = false;
    const stop = (): void => clearTimeout(timer);
    const arm = (): void => {
      stop();
      timer = setTimeout(
        () => res.destroy(new Error(`no data for ${this.#timeoutMs / 1000}s`)),
        this.#timeoutMs,
      );
    };
    // Armed when the reader starts or resumes and stopped while it pauses: a slow pipe is not an idle
    // server. The 'data' listener waits for the reader too, as adding one would start the flow and lose
    // what arrives before the reader is attached; a reader that paused on this very chunk stays paused.
    const onData = (): void => (res.readableFlowing === true ? arm() : stop());
    res.on('resume', () => {
      if (!watching) res.on('data', onData);
      watching = true;
      arm();
    });
    res.on('pause', stop).on('end', stop).on('close', stop);
  }

  #send(url: URL, method: string, headers: Record<string, string>, payload?: string): Promise<Response> {
    return new Promise((resolve, reject) => {
      const onResponse = (res: http.IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error(`answer larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'] ?? '',
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', (err) => fail(err));
      };
      const req = this.#dispatch(url, method, headers, onResponse);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        reject(networkError(this.server, err));
      };
      // One deadline for the whole exchange, not an idle timeout: a trickling server cannot hold us up.
      const timer = setTimeout(() => req.destroy(this.#deadline()), this.#timeoutMs);
      req.on('error', fail);
      req.end(payload);
    });
  }
}

/** The body of `res` as text, failing when it is longer than `max` bytes. */
function readAtMost(res: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        res.destroy(new Error(`answer larger than ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
