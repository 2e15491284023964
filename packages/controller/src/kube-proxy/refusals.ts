// Requests refused before they travelled cost little to send, so they must cost the trail little to keep:
// requests without a credential (anyone can send them) and requests over a person's rate limit (sent
// faster than anyone reads). Per sender and interval, the first is recorded in full and the rest are
// counted, then recorded as one summary record when the interval ends. The fact that they happened is
// never lost, only their copies.
import type { ApiRecord } from '../audit/record.js';

/** How long one sender's refusals are counted before their summary is recorded. */
export const REFUSAL_INTERVAL_MS = 60_000;
/** Senders tracked at once; beyond them, refusals are counted under one summary for all others. */
const MAX_SENDERS = 10_000;
const OTHERS = '(other senders)';

/** Who was refused, and how: taken from the first refusal of a sender's interval. */
export interface RefusalSample {
  address: string;
  /** The person, for a refusal after authentication (a rate limit); null for anyone else. */
  user: string | null;
  status: number;
}

interface Tally {
  sample: RefusalSample;
  first: number;
  last: number;
  counted: number;
}

export class RefusalTally {
  readonly #tallies = new Map<string, Tally>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly record: (summary: ApiRecord) => Promise<void>,
    private readonly intervalMs = REFUSAL_INTERVAL_MS,
    private readonly clock: () => number = Date.now,
  ) {
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  /**
   * Whether this refusal is the sender's first of the interval, to be recorded in full; otherwise it is
   * counted for the summary. `sender` is the key refusals are counted under (an address, a person).
   */
  admit(sender: string, sample: RefusalSample): boolean {
    const now = this.clock();
    const key = this.#tallies.has(sender) || this.#tallies.size < MAX_SENDERS ? sender : OTHERS;
    const tally = this.#tallies.get(key);
    if (!tally) {
      const shared = key === OTHERS;
      const kept = shared ? { ...sample, address: OTHERS, user: null } : sample;
      // The shared bucket records no request in full: whoever fills the table is counted, not copied.
      this.#tallies.set(key, { sample: kept, first: now, last: now, counted: shared ? 1 : 0 });
      return !shared;
    }
    tally.counted++;
    tally.last = now;
    return false;
  }

  /** Records a summary for every sender with counted refusals and starts a new interval. */
  async flush(): Promise<void> {
    const tallies = [...this.#tallies.values()];
    this.#tallies.clear();
    await Promise.all(
      tallies.filter((t) => t.counted > 0).map((t) => this.record(summaryRecord(t)).catch(() => undefined)),
    );
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    return this.flush();
  }
}

function summaryRecord(t: Tally): ApiRecord {
  const { address, user, status } = t.sample;
  const throttled = status === 429;
  const what = throttled ? 'requests over the rate limit' : 'unauthenticated requests';
  return {
    kind: 'api',
    id: `refused-${user ?? address}-${status}-${t.first}`,
    stage: 'ResponseComplete',
    at: t.first,
    endedAt: t.last,
    user,
    // Summaries name no cluster: the sender may have named any, including ones they may not know of.
    cluster: '',
    method: '',
    requestURI: '',
    verb: throttled ? 'throttled' : 'unauthenticated',
    sourceIPs: [address],
    status,
    repeated: t.counted,
    reason: `${t.counted} more ${what} from ${user ?? address}, counted rather than recorded one by one`,
  };
}
