// An optional copy of the trail for a SIEM: committed records are POSTed as JSON lines, in order, with
// retries. The backlog is bounded: if the receiver stays away too long the oldest unsent records are dropped
// from the copy (and counted) — never from the store, which remains the record.
import type { Logger } from 'pino';
import type { AuditCheckpoint } from '@ztka/protocol';
import { toKubeEvent } from './export.js';
import type { AuditRecord } from './record.js';

export interface WebhookOptions {
  maxBacklog?: number;
  batchSize?: number;
  /** First retry delay; doubles up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WebhookSink {
  #queue: string[] = [];
  #sending = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  dropped = 0;
  delivered = 0;
  readonly #opts: Required<WebhookOptions>;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    opts: WebhookOptions = {},
  ) {
    this.#opts = { maxBacklog: 10_000, batchSize: 500, baseDelayMs: 1000, maxDelayMs: 30_000, ...opts };
  }

  push(orgId: string, record: AuditRecord, seq: number): void {
    this.#enqueue(JSON.stringify({ org: orgId, seq, ...toKubeEvent(record) }));
  }

  /** A signed checkpoint of the chain, so the receiver holds an anchor the database cannot rewrite. */
  pushCheckpoint(c: AuditCheckpoint): void {
    this.#enqueue(JSON.stringify({ kind: 'AuditCheckpoint', ...c }));
  }

  #enqueue(line: string): void {
    if (this.#closed) return;
    this.#queue.push(line);
    const over = this.#queue.length - this.#opts.maxBacklog;
    if (over > 0) {
      this.#queue.splice(0, over);
      this.dropped += over;
    }
    if (!this.#sending && !this.#timer) void this.#send(this.#opts.baseDelayMs);
  }

  get backlog(): number {
    return this.#queue.length;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #send(delay: number): Promise<void> {
    this.#timer = undefined;
    if (this.#closed || this.#queue.length === 0) return;
    this.#sending = true;
    const batch = this.#queue.slice(0, this.#opts.batchSize);
    let ok = false;
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: `${batch.join('\n')}\n`,
        signal: AbortSignal.timeout(10_000),
      });
      ok = res.ok;
      if (!ok) this.log.warn({ status: res.status }, 'audit webhook refused a batch; will retry');
    } catch (err) {
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'audit webhook unreachable; will retry',
      );
    }
    this.#sending = false;
    if (ok) {
      // Only what was sent leaves the queue: records dropped meanwhile were the oldest, already counted.
      const sent = Math.min(batch.length, this.#queue.length);
      if (this.#queue[0] === batch[0]) this.#queue.splice(0, sent);
      this.delivered += batch.length;
      if (this.#queue.length > 0) void this.#send(this.#opts.baseDelayMs);
    } else if (!this.#closed) {
      this.#timer = setTimeout(() => void this.#send(Math.min(delay * 2, this.#opts.maxDelayMs)), delay);
      this.#timer.unref();
    }
  }
}
