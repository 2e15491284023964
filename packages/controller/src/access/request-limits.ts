// Rate limits on what reaches the clusters and the trail (threat model: "Abuse limits" in docs/security.md).
// Every request becomes an audit record, so whoever can send requests without bound can grow the trail
// without bound. Two limits, kept in memory per controller:
//
// - Per person: every authenticated request (kube proxy, REST API) counts against the person, whichever
//   credential, address or shell it came from, so many API keys or kubeconfigs do not multiply it.
// - Per address: only requests that carry no valid credential count, so a refusal costs the sender, while
//   everyone with a credential behind the same load balancer or NAT is unaffected.
//
// A fixed window of WINDOW_SECONDS lets a person burst (kubectl's discovery sends a hundred requests at once)
// while holding the average. An over-limit request is answered 429 with Retry-After, which client-go
// honours by retrying.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ZtkaError } from '@ztka/protocol';
import { addressKey } from '../auth/login-throttle.js';

/** The window the per-second rates are averaged over. */
export const WINDOW_SECONDS = 10;

export interface RequestLimitSettings {
  /** Requests per second a person may make, on average over the window; 0 turns the limit off. */
  perPerson: number;
  /** Requests without a valid credential per second from one address; 0 turns the limit off. */
  perAddress: number;
}

export class RequestLimits {
  readonly #person: RateLimiterMemory | undefined;
  readonly #address: RateLimiterMemory | undefined;

  constructor(settings: RequestLimitSettings) {
    const limiter = (perSecond: number) =>
      perSecond > 0
        ? new RateLimiterMemory({ points: perSecond * WINDOW_SECONDS, duration: WINDOW_SECONDS })
        : undefined;
    this.#person = limiter(settings.perPerson);
    this.#address = limiter(settings.perAddress);
  }

  /** Counts one request of a person; throws a 429 ZtkaError once they are over their limit. */
  person(userId: string): Promise<void> {
    return take(this.#person, userId, 'you are sending requests too fast');
  }

  /** Counts one request without a valid credential from an address; throws a 429 once it is over. */
  anonymous(address: string): Promise<void> {
    return take(this.#address, addressKey(address), 'too many requests without a valid credential');
  }
}

async function take(limiter: RateLimiterMemory | undefined, key: string, message: string): Promise<void> {
  if (!limiter) return;
  try {
    await limiter.consume(key);
  } catch (res) {
    // The memory limiter rejects only with its own result object; anything else is a fault to surface.
    if (!(res instanceof RateLimiterRes)) throw res;
    const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    throw new ZtkaError('too_many_requests', `${message}: try again in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
    });
  }
}
