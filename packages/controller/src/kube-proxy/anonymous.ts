// Requests refused before anyone was authenticated cost nothing to send, so they must cost the trail little
// to keep: per address and interval, the first is recorded in full and the rest are counted, then recorded
// as one summary record when the interval ends. The fact that they happened is never lost, only their
// copies.
import type { ApiRecord } from '../audit/record.js';

/** How long one address's refusals are counted before their summary is recorded. */
export const ANONYMOUS_INTERVAL_MS = 60_000;
/** Addresses tracked at once; beyond them, refusals are counted under one summary for all others. */
const MAX_ADDRESSES = 10_000;
const OTHERS = '(other addresses)';

interface Tally {
  first: number;
  last: number;
  counted: number;
}

export class AnonymousRefusals {
  readonly #tallies = new Map<string, Tally>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly record: (summary: ApiRecord) => Promise<void>,
    private readonly intervalMs = ANONYMOUS_INTERVAL_MS,
    private readonly clock: () => number = Date.now,
  ) {
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  /**
   * Whether this refusal is the address's first of the interval, to be recorded in full; otherwise it is
   * counted for the summary.
   */
  admit(address: string): boolean {
    const now = this.clock();
    const key = this.#tallies.has(address) || this.#tallies.size < MAX_ADDRESSES ? address : OTHERS;
    const tally = this.#tallies.get(key);
    if (!tally) {
      this.#tallies.set(key, { first: now, last: now, counted: 0 });
      // The shared bucket records no request in full: whoever fills the table is counted, not copied.
      if (key === OTHERS) this.#count(key, now);
      return key !== OTHERS;
    }
    this.#count(key, now);
    return false;
  }

  #count(key: string, now: number): void {
    const tally = this.#tallies.get(key);
    if (!tally) return;
    tally.counted++;
    tally.last = now;
  }

  /** Records a summary for every address with counted refusals and starts a new interval. */
  async flush(): Promise<void> {
    const tallies = [...this.#tallies];
    this.#tallies.clear();
    await Promise.all(
      tallies
        .filter(([, t]) => t.counted > 0)
        .map(([address, t]) => this.record(summaryRecord(address, t)).catch(() => undefined)),
    );
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    return this.flush();
  }
}

function summaryRecord(address: string, t: Tally): ApiRecord {
  return {
    kind: 'api',
    id: `anonymous-${address}-${t.first}`,
    stage: 'ResponseComplete',
    at: t.first,
    endedAt: t.last,
    user: null,
    cluster: '',
    method: '',
    requestURI: '',
    verb: 'unauthenticated',
    sourceIPs: [address],
    status: 401,
    repeated: t.counted,
    reason: `${t.counted} more unauthenticated requests from ${address}, counted rather than recorded one by one`,
  };
}
