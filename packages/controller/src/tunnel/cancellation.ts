// Cancelling streams of a shared HTTP/2 session without resetting them (CANCEL_GRACE_MS in
// @ztka/protocol says why): what is cancelled in one turn of the event loop is named to the other side in
// one message, which resets those streams itself.
import http2 from 'node:http2';
import { CANCEL_GRACE_MS } from '@ztka/protocol';

const { NGHTTP2_CANCEL } = http2.constants;

/** Sends the ids of streams to cancel; resolves with the other side's status (200: it resets them). */
export type SendCancels = (streams: number[]) => Promise<number>;

export class InBandCancels {
  readonly #batch = new Set<http2.ClientHttp2Stream>();

  constructor(
    private readonly send: SendCancels,
    private readonly graceMs = CANCEL_GRACE_MS,
  ) {}

  cancel(stream: http2.ClientHttp2Stream): void {
    if (stream.closed || stream.destroyed) return;
    // The answer is whole: ending this side closes the stream with no reset and no message.
    if (stream.readableEnded) {
      if (!stream.writableEnded) stream.end();
      return;
    }
    // A wedged or older other side must not keep the stream, nor the cluster's work behind it.
    const fallback = setTimeout(() => reset(stream), this.graceMs);
    fallback.unref();
    stream.once('close', () => clearTimeout(fallback));
    // Whatever is still on its way is read and dropped: left unread, it would hold the session's window.
    setImmediate(() => {
      if (stream.closed || stream.destroyed) return;
      stream.on('data', () => undefined);
      stream.resume();
    });
    if (stream.pending) stream.once('ready', () => this.#add(stream));
    else this.#add(stream);
  }

  #add(stream: http2.ClientHttp2Stream): void {
    this.#batch.add(stream);
    if (this.#batch.size === 1) setImmediate(() => this.#flush());
  }

  #flush(): void {
    const streams = [...this.#batch].filter((s) => !s.closed && !s.destroyed && s.id !== undefined);
    this.#batch.clear();
    if (streams.length === 0) return;
    const resetAll = () => streams.forEach(reset);
    this.send(streams.map((s) => s.id as number)).then((status) => status !== 200 && resetAll(), resetAll);
  }
}

function reset(stream: http2.ClientHttp2Stream): void {
  if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
}
