// Cancelling streams of a shared HTTP/2 session without resetting them (CANCEL_GRACE_MS in
// @ztka/protocol says why): what is cancelled in one turn of the event loop is named to the other side in
// one message, which resets those streams itself.
import http2 from 'node:http2';
import { CANCEL_GRACE_MS } from '@ztka/protocol';

const { NGHTTP2_CANCEL } = http2.constants;

/** Sends the ids of streams to cancel; resolves with the other side's status (200: it resets them). */
export type SendCancels = (streams: number[]) => Promise<number>;

/**
 * The resets this side may still send itself, when the other side cannot cancel in-band (an older agent or
 * replica) or does not within the grace: a burst and a rate well under nghttp2's (1,000 and 33 a second),
 * so that falling back never cuts the session either. Streams beyond it wait their turn, read and dropped.
 */
export const RESET_BUDGET = { burst: 200, perSecond: 20 } as const;

export class InBandCancels {
  readonly #batch = new Set<http2.ClientHttp2Stream>();
  readonly #resets: http2.ClientHttp2Stream[] = [];
  #tokens: number = RESET_BUDGET.burst;
  #refilledAt = Date.now();
  #draining: NodeJS.Timeout | undefined;
  /** Set once the other side has said it cannot cancel in-band; then every cancel is a paced reset. */
  #unsupported = false;

  constructor(
    private readonly send: SendCancels,
    private readonly graceMs = CANCEL_GRACE_MS,
    private readonly onUnsupported: () => void = () => undefined,
  ) {}

  cancel(stream: http2.ClientHttp2Stream): void {
    if (stream.closed || stream.destroyed) return;
    // Both sides are done and the stream closes by itself: nothing to cancel.
    if (stream.readableEnded && stream.writableFinished) return;
    // A wedged or older other side must not keep the stream, nor the cluster's work behind it.
    const fallback = setTimeout(() => this.#reset(stream), this.graceMs);
    fallback.unref();
    stream.once('close', () => clearTimeout(fallback));
    // Whatever is still on its way is read and dropped: left unread, it would hold the session's window.
    setImmediate(() => {
      if (stream.closed || stream.destroyed) return;
      stream.on('data', () => undefined);
      stream.resume();
    });
    if (this.#unsupported) return this.#reset(stream);
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
    const resetAll = () => streams.forEach((s) => this.#reset(s));
    this.send(streams.map((s) => s.id as number)).then((status) => {
      if (status === 200) return;
      if (status === 404 && !this.#unsupported) {
        this.#unsupported = true;
        this.onUnsupported();
      }
      resetAll();
    }, resetAll);
  }

  /** Resets `stream` now if the budget allows, else as soon as it does. */
  #reset(stream: http2.ClientHttp2Stream): void {
    if (stream.closed || stream.destroyed) return;
    this.#resets.push(stream);
    this.#drain();
  }

  #drain(): void {
    const now = Date.now();
    this.#tokens = Math.min(
      RESET_BUDGET.burst,
      this.#tokens + ((now - this.#refilledAt) / 1000) * RESET_BUDGET.perSecond,
    );
    this.#refilledAt = now;
    while (this.#resets.length > 0 && this.#tokens >= 1) {
      const stream = this.#resets.shift() as http2.ClientHttp2Stream;
      if (stream.closed || stream.destroyed) continue;
      stream.close(NGHTTP2_CANCEL);
      this.#tokens--;
    }
    if (this.#resets.length > 0 && !this.#draining) {
      this.#draining = setTimeout(() => {
        this.#draining = undefined;
        this.#drain();
      }, 1000 / RESET_BUDGET.perSecond);
      this.#draining.unref();
    }
  }
}
