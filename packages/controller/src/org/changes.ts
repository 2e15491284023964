// Every change that can narrow someone's access announces itself here. Caches of credentials and
// assignments clear on any announcement, so a disabled user, a revoked key or a removed role takes effect
// on the very next request; the JIT service-account revocation listens here too.
export type OrgChange =
  | { kind: 'user'; userId: string; username: string; what: 'disabled' | 'enabled' | 'deleted' | 'password' }
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
