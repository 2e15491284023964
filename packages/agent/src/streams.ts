// The proxied streams of each tunnel session by id, so that the controller can cancel one in-band
// (CONTROL_PATHS.cancel) and the agent resets it itself: a reset sent by the controller is one nghttp2
// counts against the whole tunnel (CANCEL_GRACE_MS in @ztka/protocol).
import http2 from 'node:http2';

const open = new WeakMap<http2.Http2Session, Map<number, http2.ServerHttp2Stream>>();

export function trackStream(stream: http2.ServerHttp2Stream): void {
  const { session, id } = stream;
  if (!session || id === undefined) return;
  let streams = open.get(session);
  if (!streams) open.set(session, (streams = new Map()));
  streams.set(id, stream);
  stream.once('close', () => streams.delete(id));
}

/** Resets those of `ids` that are open proxied streams of `session`; returns how many it reset. */
export function cancelStreams(session: http2.Http2Session | undefined, ids: readonly unknown[]): number {
  const streams = session ? open.get(session) : undefined;
  let cancelled = 0;
  for (const id of ids) {
    const stream = typeof id === 'number' ? streams?.get(id) : undefined;
    if (!stream || stream.closed || stream.destroyed) continue;
    stream.close(http2.constants.NGHTTP2_CANCEL);
    cancelled++;
  }
  return cancelled;
}
