// One error shape for the whole REST API. Validation failures name the field (a JSON pointer) and say
// what is wrong with it; Fastify's own refusals (body too large, bad JSON, wrong content type) keep their
// status in our shape; anything else is a 500 whose details go only to the log.
import type { FastifyError, FastifyInstance } from 'fastify';
import { TOTP_CODE_PATTERN, ZtkaError, apiErrorBody } from '@ztka/protocol';
import { DNS_LABEL_PATTERN, USERNAME_INPUT_PATTERN } from '../org/names.js';

/** What each pattern means, in words a caller can act on. */
const PATTERN_HINTS: Readonly<Record<string, string>> = {
  [DNS_LABEL_PATTERN]:
    "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
  [USERNAME_INPUT_PATTERN]: 'must be 1–254 of a-z 0-9 . _ % + @ -, starting with a letter or digit',
  [TOTP_CODE_PATTERN]: 'must be the 6 digits of a code from an authenticator app',
};

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** The first validation error as a ZtkaError naming its field. */
export function validationError(context: string, errors: readonly AjvError[]): ZtkaError {
  const e = errors[0];
  if (!e) return new ZtkaError('bad_request', `invalid ${context}`);
  let field = e.instancePath || '/';
  let problem = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    field = `${e.instancePath}/${String(e.params['additionalProperty'])}`;
    problem = 'is not a known field';
  } else if (e.keyword === 'required') {
    field = `${e.instancePath}/${String(e.params['missingProperty'])}`;
    problem = 'is required';
  } else if (e.keyword === 'pattern') {
    problem = PATTERN_HINTS[String(e.params['pattern'])] ?? 'has a form that is not allowed here';
  }
  const where =
    context === 'body' ? 'field' : context === 'querystring' ? 'query parameter' : 'path parameter';
  return new ZtkaError('bad_request', `${where} ${field} ${problem}`, { field });
}

export function installErrorHandler(
  app: FastifyInstance,
  /** Answers a GET for a console route (the SPA's own path) instead of a JSON 404. */
  consoleFallback?: (url: string) => boolean,
): void {
  app.setErrorHandler((err: FastifyError | ZtkaError, req, reply) => {
    let error: ZtkaError | undefined;
    if (err instanceof ZtkaError) error = err;
    else if (err.validation)
      error = validationError(err.validationContext ?? 'body', err.validation as AjvError[]);
    else if (err.statusCode !== undefined && err.statusCode < 500) {
      const code =
        err.statusCode === 413 ? 'payload_too_large' : err.statusCode === 415 ? 'bad_request' : 'bad_request';
      error = new ZtkaError(code, err.message);
      return reply.code(err.statusCode).send(apiErrorBody(error));
    }
    if (!error) {
      req.log.error({ err }, 'request failed');
      error = new ZtkaError('internal', 'internal error');
    }
    if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
    return reply.code(error.status).send(apiErrorBody(error));
  });
  app.setNotFoundHandler((req, reply) => {
    if (consoleFallback?.(req.url) && (req.method === 'GET' || req.method === 'HEAD'))
      return reply.type('text/html').sendFile('index.html');
    return reply
      .code(404)
      .send({ code: 'not_found', message: `no route for ${req.method} ${req.url.split('?')[0]}` });
  });
}
