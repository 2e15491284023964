// Slows password guessing: after a few failures an account (and, separately, a source address) must wait,
// and the wait doubles with each further failure, up to a cap. A success clears the account's count.
// Kept in memory: a restart forgets counts, which costs an attacker a restart they cannot cause.
const FREE_FAILURES_PER_ACCOUNT = 5;
const FREE_FAILURES_PER_ADDRESS = 20;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 15 * 60_000;
const FORGET_AFTER_MS = 60 * 60_000;
const MAX_KEYS = 50_000;

interface Entry {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

export class LoginThrottle {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Milliseconds the caller must wait before trying this account from this address, 0 if it may go on. */
  waitMs(username: string, address: string): number {
    const now = this.clock();
    return Math.max(
      0,
      ...[`u:${username}`, `a:${address}`].map((k) => (this.#entries.get(k)?.lockedUntil ?? 0) - now),
    );
  }

  failed(username: string, address: string): void {
    this.#bump(`u:${username}`, FREE_FAILURES_PER_ACCOUNT);
    this.#bump(`a:${address}`, FREE_FAILURES_PER_ADDRESS);
  }

  succeeded(username: string): void {
    this.#entries.delete(`u:${username}`);
  }

  #bump(key: string, free: number): void {
    const now = this.clock();
    let entry = this.#entries.get(key);
    if (!entry || now - entry.lastFailure > FORGET_AFTER_MS)
      entry = { failures: 0, lockedUntil: 0, lastFailure: now };
    entry.failures++;
    entry.lastFailure = now;
    if (entry.failures >= free)
      entry.lockedUntil = now + Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (entry.failures - free));
    if (this.#entries.size >= MAX_KEYS) this.#sweep(now);
    this.#entries.set(key, entry);
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#entries)
      if (now - entry.lastFailure > FORGET_AFTER_MS && entry.lockedUntil < now) this.#entries.delete(key);
    if (this.#entries.size >= MAX_KEYS) this.#entries.clear();
  }
}
