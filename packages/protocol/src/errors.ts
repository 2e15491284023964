/**
 * The one error type of ztka. Each code has a fixed HTTP status and a Kubernetes reason, so the same
 * error reads well to kubectl (as a metav1.Status) and to API clients (as {code, message}). The client
 * gets `message`; details for operators go to the server log, never to the client.
 */
export const ERROR_CODES = {
  bad_request: { status: 400, reason: 'BadRequest' },
  unauthorized: { status: 401, reason: 'Unauthorized' },
  totp_required: { status: 401, reason: 'Unauthorized' },
  totp_enrolment_required: { status: 403, reason: 'Forbidden' },
  forbidden: { status: 403, reason: 'Forbidden' },
  not_found: { status: 404, reason: 'NotFound' },
  method_not_allowed: { status: 405, reason: 'MethodNotAllowed' },
  request_timeout: { status: 408, reason: 'Timeout' },
  conflict: { status: 409, reason: 'Conflict' },
  payload_too_large: { status: 413, reason: 'RequestEntityTooLarge' },
  too_many_requests: { status: 429, reason: 'TooManyRequests' },
  headers_too_large: { status: 431, reason: 'BadRequest' },
  internal: { status: 500, reason: 'InternalError' },
  cluster_unavailable: { status: 503, reason: 'ServiceUnavailable' },
  bad_gateway: { status: 502, reason: 'InternalError' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ZtkaError extends Error {
  readonly status: number;
  /** The request field at fault (a JSON pointer such as `/name`), for `bad_request` and `conflict`. */
  readonly field: string | undefined;
  /** Seconds the caller should wait, for `too_many_requests`. */
  readonly retryAfterSeconds: number | undefined;
  /** The enrolment token a `totp_enrolment_required` refusal hands the person whose password checked out. */
  readonly enrolment: TotpEnrolmentGrant | undefined;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; field?: string; retryAfterSeconds?: number; enrolment?: TotpEnrolmentGrant },
  ) {
    super(message, options);
    this.name = 'ZtkaError';
    this.status = ERROR_CODES[code].status;
    this.field = options?.field;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.enrolment = options?.enrolment;
  }
}

/**
 * What a login refused with `totp_enrolment_required` carries: a token good for 10 minutes and for nothing
 * but enrolling in TOTP (`Authorization: Bearer <enrolmentToken>` on /v1/auth/totp and /v1/auth/totp/confirm).
 */
export interface TotpEnrolmentGrant {
  enrolmentToken: string;
  expiresAt: string;
}

/** The REST API's error body: one shape for every failure. */
export interface ApiErrorBody extends Partial<TotpEnrolmentGrant> {
  code: ErrorCode;
  message: string;
  field?: string;
}

export function apiErrorBody(err: ZtkaError): ApiErrorBody {
  return {
    code: err.code,
    message: err.message,
    ...(err.field === undefined ? {} : { field: err.field }),
    ...err.enrolment,
  };
}

/** The `metav1.Status` kubectl prints as `Error from server (<Reason>): <message>`. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
}

export function kubeStatus(err: ZtkaError): KubeStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: err.message,
    reason: ERROR_CODES[err.code].reason,
    code: err.status,
  };
}
