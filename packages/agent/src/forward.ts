import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import https from 'node:https';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import {
  ANSWER_HEADER_LIMIT,
  AUDIT_ID_HEADER,
  IDENTITY_HEADER,
  KUBE_REQUEST_HEADER,
  UPGRADE_HEADER,
  UPGRADE_STATUS_HEADER,
  WHOLE_ANSWER_LIMIT,
  ZtkaError,
  agreesWithKubeRequestHeader,
  decodeIdentity,
  forwardableHeaders,
  kubeStatus,
  parseKubeTarget,
  protectedNamespaceReached,
  relay,
  type KubeRequest,
} from '@ztka/protocol';
import { failureOf } from './jit/kube-apis.js';
import type { H2Pool } from './h2-pool.js';
import type { CredentialProvider } from './upstream.js';

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_STATUS, NGHTTP2_CANCEL } = http2.constants;

/** The controller has cancelled the stream (its client left, access was revoked, the tunnel dropped):
 * nothing may be sent on it any more, and `respond()` would throw. */
const gone = (stream: http2.ServerHttp2Stream) => stream.destroyed || stream.closed;

/** Answers with a Status, or, when part of an answer has already gone out, resets the stream so that no
 * client takes a truncated answer for a whole one. */
function fail(stream: http2.ServerHttp2Stream, err: ZtkaError): void {
  // Gone, or already answered in full (a refusal made here): nothing more to say.
  if (gone(stream) || stream.writableEnded) return;
  if (stream.headersSent) {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  stream.respond({ [HTTP2_HEADER_STATUS]: err.status, 'content-type': 'application/json' });
  stream.end(JSON.stringify(kubeStatus(err)));
}

/**
 * Defence in depth behind the controller's own refusal: nobody's request reaches the namespaces in
 * `protect` (the agent's JIT namespace and ztka-system), where every person's service account lives.
 */
function protectedRefusal(
  target: { kube: KubeRequest; query: URLSearchParams },
  protect: ReadonlySet<string>,
): ZtkaError | undefined {
  const namespace = protectedNamespaceReached(target.kube, target.query, protect);
  if (namespace === undefined) return undefined;
  return new ZtkaError(
    'forbidden',
    `the ztka agent refuses requests into the namespace "${namespace}": it holds ztka's just-in-time ` +
      `service accounts, which only the agent manages`,
  );
}

/**
 * Serves one tunnel stream: sends the request to the kube-apiserver with the credential the provider picks
 * for the person behind it, and streams the answer back. The path is parsed here once, and checked against
 * the controller's parse (KUBE_REQUEST_HEADER). An upgrade is performed against the apiserver here,
 * and after its 101 the stream carries raw bytes both ways. Requests into `protect` are refused before any
 * credential is made for them.
 */
export function createForwarder(credentials: CredentialProvider, log: Logger, protect: ReadonlySet<string>) {
  return async function forward(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ): Promise<void> {
    stream.on('error', () => {});
    const auditId = String(headers[AUDIT_ID_HEADER] ?? '');
    const target = parseKubeTarget(
      String(headers[HTTP2_HEADER_METHOD]),
      String(headers[HTTP2_HEADER_PATH] ?? ''),
    );
    // The controller parsed the path with the same parser: one it cannot read came from no sound controller.
    if (!target)
      return fail(stream, new ZtkaError('bad_request', 'the ztka agent cannot read this kube API path'));
    // The refusal below rests on the agent's own parse of the path, which the apiserver will act on; the
    // controller's parse must agree with it, or what was authorized and recorded is not what would run.
    // (A controller older than the header sends none.)
    const carried = headers[KUBE_REQUEST_HEADER];
    if (carried !== undefined && !agreesWithKubeRequestHeader(target.kube, String(carried))) {
      log.warn({ auditId }, 'request refused: the controller read its path differently');
      return fail(
        stream,
        new ZtkaError('bad_request', 'the ztka agent and controller read this kube API path differently'),
      );
    }
    const refusal = protectedRefusal(target, protect);
    if (refusal) {
      log.warn({ auditId }, 'request into a protected namespace refused');
      return fail(stream, refusal);
    }
    let upstream;
    try {
      const identity = decodeIdentity(String(headers[IDENTITY_HEADER] ?? ''));
      upstream = await credentials.forRequest(identity);
    } catch (err) {
      log.warn({ auditId, err: failureOf(err) }, 'no upstream credential');
      // A refusal written for the person (an account that is not theirs) says why; anything else, only that.
      fail(
        stream,
        err instanceof ZtkaError
          ? err
          : new ZtkaError('forbidden', 'the agent could not obtain a credential for this request'),
      );
      return;
    }
    // Creating a person's service account takes a while; the request may have been cancelled meanwhile,
    // and a request sent now would run in the cluster with nobody to read its answer.
    if (gone(stream)) return;

    const upgrade = headers[UPGRADE_HEADER];
    const outgoing: OutgoingHttpHeaders = forwardableHeaders(headers, { dropCredentials: true });
    Object.assign(outgoing, upstream.headers);
    // The cluster's own audit log records the controller's id, so the two logs can be joined.
    if (auditId) outgoing['audit-id'] = auditId;
    if (upgrade) {
      outgoing['connection'] = 'Upgrade';
      outgoing['upgrade'] = String(upgrade);
      // An upgrade request has no body. Without a length Node would send a POST (SPDY exec) chunked, and the
      // chunked terminator would reach the apiserver as the first bytes of the upgraded stream.
      outgoing['content-length'] = '0';
    }

    if (upstream.h2 && !upstream.h2.unsupported && !upgrade && target.kube.verb !== 'list') {
      forwardOverH2(stream, headers, outgoing, upstream.h2, auditId, log);
      return;
    }

    const req = https.request(`${upstream.server}${String(headers[HTTP2_HEADER_PATH])}`, {
      method: String(headers[HTTP2_HEADER_METHOD]),
      headers: outgoing,
      agent: upstream.agent,
    });
    req.on('error', (err) => fail(stream, upstreamFailed(err, auditId, log)));
    req.on('response', (res) => {
      passAnswer(stream, res.statusCode ?? 502, res.headers, res);
      res.on('error', () => {}); // its close, below, says all there is to say
      res.on('close', () => {
        if (!res.complete)
          fail(
            stream,
            upstreamFailed(new Error('the connection closed before the answer ended'), auditId, log),
          );
      });
    });
    req.on('upgrade', (res, socket, head) => {
      if (gone(stream)) return socket.destroy();
      const h = forwardableHeaders(res.headers);
      // After a 101 the stream carries raw bytes: a length would make them a protocol error at the
      // controller, which would reset the stream on the shared tunnel.
      delete h['content-length'];
      const answer = {
        ...h,
        [HTTP2_HEADER_STATUS]: 200,
        [UPGRADE_STATUS_HEADER]: '101',
        [UPGRADE_HEADER]: String(res.headers.upgrade ?? ''),
      };
      const refused = tooManyHeaders(answer);
      if (refused) {
        socket.destroy();
        return fail(stream, refused);
      }
      stream.respond(answer);
      if (head.length > 0) stream.write(head);
      relay(socket, stream);
      relay(stream, socket);
      socket.on('error', () => stream.close(NGHTTP2_CANCEL));
      socket.on('close', () => stream.end());
      stream.on('close', () => socket.destroy());
    });
    // The stream closed before the apiserver's answer ended (the client went away, the tunnel died): stop
    // the apiserver's work too, or a watch would stay open in the cluster with nobody reading it.
    let answered = false;
    req.on('response', (res) => res.on('end', () => (answered = true)));
    stream.on('close', () => {
      if (!answered && !req.destroyed) req.destroy();
    });
    if (upgrade) req.end();
    else relay(stream, req);
  };
}

/**
 * A plain request over one of the HTTP/2 sessions to the apiserver: both directions streamed, and a stream
 * that ends early on either side ends the other, so a watch does not outlive its client.
 */
function forwardOverH2(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  outgoing: OutgoingHttpHeaders,
  pool: H2Pool,
  auditId: string,
  log: Logger,
): void {
  let up: http2.ClientHttp2Stream;
  try {
    up = pool.request({
      ...outgoing,
      [HTTP2_HEADER_METHOD]: String(headers[HTTP2_HEADER_METHOD]),
      [HTTP2_HEADER_PATH]: String(headers[HTTP2_HEADER_PATH]),
    });
  } catch (err) {
    fail(stream, upstreamFailed(err, auditId, log));
    return;
  }
  let answered = false;
  let failed = false;
  // Every way the upstream can end without its answer — an error, a reset, its connection gone before it
  // answered — fails the tunnel stream once: a clean Status if nothing was sent, a reset otherwise.
  const failOnce = (err: ZtkaError) => {
    if (failed) return;
    failed = true;
    fail(stream, err);
  };
  up.on('response', (res) => passAnswer(stream, Number(res[HTTP2_HEADER_STATUS]), res, up));
  up.on('end', () => (answered = true));
  up.on('error', (err) => failOnce(upstreamFailed(err, auditId, log)));
  up.on('close', () => {
    if (!answered)
      failOnce(upstreamFailed(new Error('the connection closed before the answer ended'), auditId, log));
  });
  stream.on('close', () => {
    if (!answered && !up.closed) up.close(NGHTTP2_CANCEL);
  });
  relay(stream, up);
}

/**
 * An answer whose headers the controller's session would refuse, and reset: never passed on
 * (ANSWER_HEADER_LIMIT). Counted as the wire does, one field per value.
 */
function tooManyHeaders(headers: http2.OutgoingHttpHeaders): ZtkaError | undefined {
  let pairs = 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      pairs++;
      bytes += name.length + String(v).length;
    }
  }
  if (pairs <= ANSWER_HEADER_LIMIT.pairs && bytes <= ANSWER_HEADER_LIMIT.bytes) return undefined;
  return new ZtkaError(
    'bad_gateway',
    `the cluster's answer carries ${pairs} header fields (${bytes} bytes), more than ztka passes on`,
  );
}

function upstreamFailed(err: unknown, auditId: string, log: Logger): ZtkaError {
  const message = err instanceof Error ? err.message : String(err);
  log.warn({ auditId, err: message }, 'kube-apiserver request failed');
  return new ZtkaError('bad_gateway', `the agent could not reach the kube-apiserver: ${message}`);
}

/**
 * Passes the apiserver's answer back through the tunnel. A small one of known length goes whole, headers
 * and body in one write, so the controller is woken once for it rather than for each part.
 */
function passAnswer(
  stream: http2.ServerHttp2Stream,
  status: number,
  headers: Readonly<Record<string, string | string[] | number | undefined>>,
  body: Readable,
): void {
  if (gone(stream)) return void body.destroy();
  const answerHeaders = { ...forwardableHeaders(headers), [HTTP2_HEADER_STATUS]: status };
  const refused = tooManyHeaders(answerHeaders);
  if (refused) {
    body.destroy();
    return fail(stream, refused);
  }
  const length = Number(headers['content-length']);
  if (Number.isSafeInteger(length) && length >= 0 && length <= WHOLE_ANSWER_LIMIT) {
    // Bounded by the length: the HTTP parser and nghttp2 both refuse a body longer than announced.
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.on('end', () => {
      if (gone(stream)) return;
      stream.respond(answerHeaders);
      stream.end(Buffer.concat(chunks));
    });
    return;
  }
  stream.respond(answerHeaders);
  relay(body, stream);
}

/**
 * LISTs go over HTTP/1.1 even when the apiserver speaks HTTP/2: Go's HTTP/2 server writes a response body
 * in 4 KiB pieces through its frame scheduler, which cost the apiserver 1.5 to 2.5 times the CPU per MB
 * of a large LIST (docs/performance.md). Everything else (small gets, writes, watches, which each hold a
 * stream for long) gains more from sharing sessions.
 */
export function isList(method: string, pathAndQuery: string): boolean {
  return parseKubeTarget(method, pathAndQuery)?.kube.verb === 'list';
}
