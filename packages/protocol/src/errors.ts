/**
 * The one error type of ztka. Each code has a fixed HTTP status and a Kubernetes reason, so the same
 * error reads well to kubectl (as a metav1.Status) and to API clients (as {code, message}). The client
 * gets `message`; details for operators go to the server log, never to the client.
 */
export const ERROR_CODES = {
  bad_request: { status: 400, reason: 'BadRequest' },
  unauthorized: { status: 401, reason: 'Unauthorized' },
  forbidden: { status: 403, reason: 'Forbidden' },
  not_found: { status: 404, reason: 'NotFound' },
  conflict: { status: 409, reason: 'Conflict' },
  payload_too_large: { status: 413, reason: 'RequestEntityTooLarge' },
  headers_too_large: { status: 431, reason: 'BadRequest' },
  internal: { status: 500, reason: 'InternalError' },
  cluster_unavailable: { status: 503, reason: 'ServiceUnavailable' },
  gateway_timeout: { status: 504, reason: 'Timeout' },
  bad_gateway: { status: 502, reason: 'InternalError' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ZtkaError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ZtkaError';
    this.status = ERROR_CODES[code].status;
  }
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
