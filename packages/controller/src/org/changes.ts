// Every change that can narrow someone's access announces itself here. Caches of credentials and
// assignments clear on any announcement, so a disabled user, a revoked key or a removed role takes effect
// on the very next request; the JIT service-account revocation listens here too.
export type OrgChange =
  | {
      kind: 'user';
      userId: string;
      username: string;
      /**
       * `signed-out`: every credential revoked because the single sign-on provider stopped vouching for the
       * person's session, or because the org turned password logins off.
       */
      what: 'disabled' | 'enabled' | 'deleted' | 'password' | 'signed-out';
    }
  | { kind: 'assignments'; userIds: readonly string[] | 'all' }
  | { kind: 'credentials'; userId: string }
  | { kind: 'settings'; orgId: string }
  | { kind: 'clusters' };

export class ChangeFeed {
  #generation = 0;
  readonly #listeners = new Set<(change: OrgChange) => void>();

  /** Increases with every change; a cache entry from an older generation is stale. */
  get generation(): number {
    return this.#generation;
  }

  emit(change: OrgChange): void {
    this.#generation++;
    for (const listener of this.#listeners) listener(change);
  }

  on(listener: (change: OrgChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** How long a cached read may be trusted at most: bounds staleness for changes another replica made. */
export const CACHE_TTL_MS = 1000;
const CACHE_MAX = 10_000;

/**
 * A cache of reads that can narrow access (credentials, assignments, cluster scopes, settings): an entry is
 * used only while no change has been announced since it was read, and for at most CACHE_TTL_MS.
 */
export class GenerationCache<V> {
  readonly #entries = new Map<string, { generation: number; at: number; value: V }>();

  constructor(
    private readonly changes: ChangeFeed,
    private readonly clock: () => number = Date.now,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.clock();
    const hit = this.#entries.get(key);
    if (hit && hit.generation === this.changes.generation && now - hit.at < CACHE_TTL_MS) return hit.value;
    const generation = this.changes.generation;
    const value = await load();
    if (this.#entries.size >= CACHE_MAX) this.#entries.clear();
    this.#entries.set(key, { generation, at: now, value });
    return value;
  }
}
