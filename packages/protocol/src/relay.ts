import type { Readable, Writable } from 'node:stream';

/**
 * How many bytes may wait in a relay's destination before the source is paused. `pipe()` pauses at the
 * destination's high-water mark (16 KiB for sockets and HTTP/2 streams), so each hop of a stream moved
 * 16 KiB per event-loop round trip: exec output crossed three processes at about 75 MB/s. Letting 1 MiB
 * wait keeps every hop busy (135 MB/s, docs/performance.md), and bounds what one slow reader can cost.
 */
export const RELAY_LIMIT = 1 << 20;

/**
 * Copies `from` into `to` as `pipe()` does (backpressure, `end` passed on unless told not to), but with
 * RELAY_LIMIT bytes of slack instead of the destination's high-water mark. Stops when `to` closes.
 */
export function relay(from: Readable, to: Writable, opts: { end?: boolean; limit?: number } = {}): void {
  const limit = opts.limit ?? RELAY_LIMIT;
  let paused = false;
  const onDrain = () => {
    paused = false;
    from.resume();
  };
  const onData = (chunk: Buffer) => {
    if (to.destroyed || to.writableEnded) return;
    to.write(chunk);
    if (!paused && to.writableLength > limit) {
      paused = true;
      from.pause();
      to.once('drain', onDrain);
    }
  };
  const stop = () => {
    from.off('data', onData);
    from.off('end', onEnd);
    to.off('drain', onDrain);
    to.off('close', onClose);
  };
  // Nothing more can be delivered: hold the source where it is, as pipe() does, for its owner to end.
  const onClose = () => {
    stop();
    from.pause();
  };
  const onEnd = () => {
    stop();
    if (opts.end !== false && !to.destroyed && !to.writableEnded) to.end();
  };
  from.on('data', onData);
  from.on('end', onEnd);
  to.on('close', onClose);
  // As pipe() does: a source paused before the relay began (an HTTP request whose body nobody has read
  // yet) flows now; a 'data' listener alone does not restart a stream paused explicitly.
  if (!from.readableFlowing) from.resume();
  if (from.readableEnded) onEnd();
}
