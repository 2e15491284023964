// The streams a server side of a shared HTTP/2 session serves, by id, so that the client side can cancel
// some in-band (CANCEL_GRACE_MS in tunnel.ts) and this side resets them itself: the agent for its tunnel,
// a replica for the peer hop. Ids are looked up in the session the message came on, never another's.
import http2 from 'node:http2';

export class SessionStreams {
  readonly #open = new WeakMap<http2.Http2Session, Map<number, http2.ServerHttp2Stream>>();

  track(stream: http2.ServerHttp2Stream): void {
    const { session, id } = stream;
    if (!session || id === undefined) return;
    let streams = this.#open.get(session);
    if (!streams) this.#open.set(session, (streams = new Map()));
    streams.set(id, stream);
    stream.once('close', () => streams.delete(id));
  }

  /** Resets those of `ids` that are open tracked streams of `session`; returns how many it reset. */
  cancel(session: http2.Http2Session | undefined, ids: unknown): number {
    const streams = session ? this.#open.get(session) : undefined;
    let cancelled = 0;
    for (const id of Array.isArray(ids) ? (ids as unknown[]) : []) {
      const stream = typeof id === 'number' ? streams?.get(id) : undefined;
      if (!stream || stream.closed || stream.destroyed) continue;
      stream.close(http2.constants.NGHTTP2_CANCEL);
      cancelled++;
    }
    return cancelled;
  }
}
