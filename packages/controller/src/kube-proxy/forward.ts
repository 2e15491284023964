import http2 from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { UPGRADE_HEADER, UPGRADE_STATUS_HEADER, ZtkaError, forwardableHeaders } from '@ztka/protocol';
import { sendStatus, sendStatusOnSocket } from './respond.js';
import { resolveTarget, type KubeProxyDeps, type ProxyTarget } from './target.js';

export type { KubeProxyDeps } from './target.js';

export interface KubeProxy {
  /** A plain request (get, list, watch, apply, logs -f …): streamed both ways, never buffered. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  /** An upgrade (exec, attach, port-forward, cp over WebSocket or SPDY): relayed as raw bytes after the 101. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Observes each proxied request once it ends; audit and metrics hang here. */
export type ProxyObserver = (
  target: ProxyTarget,
  outcome: { status: number; bytesOut: number; durationMs: number },
) => void;

function asZtkaError(err: unknown): ZtkaError {
  if (err instanceof ZtkaError) return err;
  return new ZtkaError('bad_gateway', 'the cluster connection failed while handling this request', {
    cause: err,
  });
}

function openStream(target: ProxyTarget, extra: Record<string, string> = {}): http2.ClientHttp2Stream {
  return target.session.h2.request(
    {
      ...target.headers,
      ...extra,
      [http2.constants.HTTP2_HEADER_METHOD]: target.method,
      [http2.constants.HTTP2_HEADER_PATH]: target.upstreamPath,
    },
    // Node closes the request side of a GET at once unless told otherwise; an upgraded GET (exec over
    // WebSocket) needs it open for the bytes that follow, and a plain one ends it when its empty body does.
    { endStream: false },
  );
}

export function createKubeProxy(deps: KubeProxyDeps, observe: ProxyObserver = () => {}): KubeProxy {
  return {
    handleRequest(req, res) {
      const started = Date.now();
      resolveTarget(req, deps).then(
        (target) => {
          let bytesOut = 0;
          let status = 0;
          const stream = openStream(target);
          const untrack = deps.track(target, () => {
            // No longer allowed: a watch or log stream ends now, not when the client hangs up.
            if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
            res.destroy();
          });
          req.pipe(stream);
          stream.on('response', (headers) => {
            status = Number(headers[':status']);
            res.writeHead(status, forwardableHeaders(headers));
            // Watches and logs -f send a little at a time: pass each piece on at once.
            res.flushHeaders();
            // Counted only from here: a 'data' listener attached earlier would start the flow before the
            // pipe exists and lose the first bytes of a small response.
            stream.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
            stream.pipe(res);
          });
          stream.on('error', (err) => {
            if (!res.headersSent) sendStatus(res, asZtkaError(err));
            else res.destroy();
          });
          let ended = false;
          stream.on('end', () => (ended = true));
          stream.on('close', () => {
            // A stream that closed without its end (the tunnel died, the agent reset it): end the client's
            // response too, so a watch or a log stream does not wait forever on a tunnel that is gone.
            if (!ended && !res.writableFinished) {
              if (!res.headersSent)
                sendStatus(
                  res,
                  new ZtkaError('bad_gateway', `the tunnel to cluster ${target.cluster} closed`),
                );
              else res.destroy();
            }
            untrack();
            observe(target, { status, bytesOut, durationMs: Date.now() - started });
          });
          // The client went away: stop the work in the cluster too (a watch, a log stream).
          res.on('close', () => {
            if (!res.writableFinished && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
          });
        },
        (err: unknown) => {
          req.resume();
          sendStatus(res, asZtkaError(err));
        },
      );
    },

    handleUpgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      resolveTarget(req, deps).then(
        (target) => {
          const untrack = deps.track(target, () => socket.destroy());
          socket.on('close', untrack);
          relayUpgrade(req, socket, head, target, observe);
        },
        (err: unknown) => sendStatusOnSocket(socket, asZtkaError(err)),
      );
    },
  };
}

function relayUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: ProxyTarget,
  observe: ProxyObserver,
) {
  const started = Date.now();
  let status = 0;
  let bytesOut = 0;
  // After the switch the stream carries the upgraded protocol's bytes, not a body: a `Content-Length: 0`
  // from the client would make HTTP/2 reset the stream at the first byte.
  delete target.headers['content-length'];
  const stream = openStream(target, { [UPGRADE_HEADER]: String(req.headers.upgrade ?? '') });
  if (head.length > 0) stream.write(head);

  stream.on('response', (headers) => {
    status = Number(headers[UPGRADE_STATUS_HEADER] ?? headers[':status']);
    const lines = Object.entries(forwardableHeaders(headers)).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).map((v) => `${name}: ${String(v)}\r\n`),
    );
    if (status === 101) {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${String(headers[UPGRADE_HEADER] ?? '')}\r\n${lines.join('')}\r\n`,
      );
      socket.pipe(stream);
    } else {
      // The cluster refused the upgrade (an old apiserver, a forbidden exec): pass its answer on as a plain
      // response, which is how kubectl ≥ 1.30 learns to fall back from WebSocket to SPDY.
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}Connection: close\r\n\r\n`,
      );
    }
    stream.on('data', (chunk: Buffer) => (bytesOut += chunk.length));
    stream.pipe(socket);
  });
  stream.on('error', (err) => {
    if (status === 0) sendStatusOnSocket(socket, asZtkaError(err));
    else socket.destroy();
  });
  stream.on('close', () => {
    if (status === 0)
      sendStatusOnSocket(
        socket,
        new ZtkaError('bad_gateway', `the tunnel to cluster ${target.cluster} closed`),
      );
    else socket.end();
    observe(target, { status, bytesOut, durationMs: Date.now() - started });
  });
  socket.on('close', () => {
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
  });
}
