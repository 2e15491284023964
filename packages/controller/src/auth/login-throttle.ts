// Slows password guessing without handing anyone a way to lock a person out (threat model: "Logins" in
// docs/security.md). Three limits, kept in memory (a restart forgets them, which costs an attacker a restart
// they cannot cause). An attempt is checked only if each of them lets it through:
//
// - Per address, a token bucket of checked attempts: a burst, then one more per refill period. An empty
//   bucket refuses every login from that address until a token returns, so one machine's guessing, spread
//   over any number of accounts, stays slow. A successful login gives its token back.
// - Per account and address: after a few failures there, a backoff that doubles up to many minutes. One
//   machine guessing one account soon gets a guess every quarter of an hour.
// - Per account, across the addresses that have failed for it: after a few failures, one check per backoff
//   (doubling, capped at a few seconds), whichever of those addresses asks. Guessing one account from many
//   addresses stays slow, and this wait never outlives an attack by more than the cap.
//
// The account's backoff does not hold an address that has not failed for that account: its attempt is
// checked. The owner, from where they log in, gets in with the right password however hard others hammer
// the account; an attacking address earns the backoff with its first wrong guess.
//
// An admitted attempt counts as a failure at once and is given back when it succeeds, so attempts in flight
// together cannot all slip through before the first of them has failed. Refused attempts are not checked
// and count for nothing: hammering an account does not lengthen any wait.
import ipaddr from 'ipaddr.js';
import { LRUCache } from 'lru-cache';

export interface LoginLimits {
  /** Checked attempts an address may make at once. */
  addressBurst: number;
  /** How often an address earns back one checked attempt. */
  addressRefillMs: number;
  /** Failures an account, or an account from one address, takes before a backoff applies. */
  freeFailures: number;
  /** The first backoff; each further failure doubles it, up to the cap of the limit concerned. */
  backoffMs: number;
  /** The cap of one address's backoff for one account. */
  pairMaxBackoffMs: number;
  /** The cap of an account's backoff across the addresses that have failed for it: a few seconds. */
  accountMaxBackoffMs: number;
  /** Failures are forgotten after this long without another. */
  memoryMs: number;
  /** Entries kept per limit; the least recently used go first, never the ones an attack keeps using. */
  maxEntries: number;
}

export const LOGIN_LIMITS: Readonly<LoginLimits> = Object.freeze({
  addressBurst: 20,
  addressRefillMs: 10_000,
  freeFailures: 3,
  backoffMs: 1000,
  pairMaxBackoffMs: 15 * 60_000,
  accountMaxBackoffMs: 8000,
  memoryMs: 60 * 60_000,
  maxEntries: 100_000,
});

/** Either the attempt may be checked (tell the admission if it succeeded), or it must wait. */
export type LoginAdmission =
  { admitted: true; succeeded(): void } | { admitted: false; retryAfterMs: number };

/** A token bucket kept as the time it would be full again (GCRA): whole milliseconds, no drift. */
interface Bucket {
  fullAt: number;
}

interface Failures {
  count: number;
  last: number;
  /** When the next attempt that this backoff holds may be checked. */
  nextCheckAt: number;
}

/**
 * The key an address is limited under: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4 form), IPv6 by
 * its /64, since one subscriber commonly holds a whole /64 and could otherwise take a fresh address per guess.
 */
export function addressKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (!(parsed instanceof ipaddr.IPv6)) return parsed.toString();
  return `${new ipaddr.IPv6([...parsed.parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}

export class LoginThrottle {
  readonly #addresses: LRUCache<string, Bucket>;
  readonly #accounts: LRUCache<string, Failures>;
  readonly #pairs: LRUCache<string, Failures>;

  constructor(
    private readonly limits: Readonly<LoginLimits> = LOGIN_LIMITS,
    private readonly clock: () => number = Date.now,
  ) {
    this.#addresses = new LRUCache({ max: limits.maxEntries });
    this.#accounts = new LRUCache({ max: limits.maxEntries });
    this.#pairs = new LRUCache({ max: limits.maxEntries });
  }

  /** Whether a login for `username` from `address` may have its password checked now. */
  admit(username: string, address: string): LoginAdmission {
    const now = this.clock();
    const { limits } = this;
    const addr = addressKey(address);
    const pairKey = `${username}\n${addr}`;

    const bucket = this.#addresses.get(addr) ?? { fullAt: now };
    bucket.fullAt = Math.max(bucket.fullAt, now);
    const pair = this.#recall(this.#pairs, pairKey, now);
    const account = this.#recall(this.#accounts, username, now);
    // Only an address that has failed for this account is held by the account's backoff.
    const heldByAccount = pair.count > 0;

    const wait = Math.max(
      bucket.fullAt - now - (limits.addressBurst - 1) * limits.addressRefillMs,
      this.#wait(pair, now),
      heldByAccount ? this.#wait(account, now) : 0,
    );
    if (wait > 0) {
      // Still trying, so still failing here: it does not get a fresh start by outlasting the memory.
      if (heldByAccount) pair.last = now;
      return { admitted: false, retryAfterMs: wait };
    }

    // Counted as a failure until it proves otherwise.
    bucket.fullAt += limits.addressRefillMs;
    this.#addresses.set(addr, bucket);
    this.#count(this.#pairs, pairKey, pair, now, limits.pairMaxBackoffMs);
    this.#count(this.#accounts, username, account, now, heldByAccount ? limits.accountMaxBackoffMs : 0);
    let settled = false;
    return {
      admitted: true,
      succeeded: () => {
        if (settled) return;
        settled = true;
        bucket.fullAt -= limits.addressRefillMs;
        account.count = Math.max(0, account.count - 1);
        // The owner's own mistakes from this address no longer hold them.
        this.#pairs.delete(pairKey);
      },
    };
  }

  #recall(cache: LRUCache<string, Failures>, key: string, now: number): Failures {
    const found = cache.get(key);
    return found && now - found.last <= this.limits.memoryMs
      ? found
      : { count: 0, last: now, nextCheckAt: 0 };
  }

  #wait(failures: Failures, now: number): number {
    return failures.count >= this.limits.freeFailures ? Math.max(0, failures.nextCheckAt - now) : 0;
  }

  /** One more failure; past the free ones, the next check waits a doubled backoff up to `cap` (0: none). */
  #count(cache: LRUCache<string, Failures>, key: string, failures: Failures, now: number, cap: number): void {
    const { freeFailures, backoffMs } = this.limits;
    if (cap > 0 && failures.count >= freeFailures)
      failures.nextCheckAt =
        now + Math.min(cap, backoffMs * 2 ** Math.min(30, failures.count - freeFailures));
    failures.count += 1;
    failures.last = now;
    cache.set(key, failures);
  }
}
