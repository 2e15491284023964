// Org settings: how long kubeconfig credentials and JIT service accounts live, and which kubectl channels
// are open. Read on every proxied request, so cached until the next change.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { GenerationCache, type ChangeFeed } from './changes.js';

export interface OrgSettings {
  kubeconfigValiditySeconds: number;
  saLifetimeSeconds: number;
  webKubectl: boolean;
  cliKubectl: boolean;
}

export const DEFAULT_SETTINGS: OrgSettings = Object.freeze({
  kubeconfigValiditySeconds: 30 * 24 * 3600,
  saLifetimeSeconds: 8 * 3600,
  webKubectl: true,
  cliKubectl: true,
});

/**
 * Bounds: a kubeconfig lives 10 min to 1 year; a JIT service account 10 s to 30 days of idleness (its
 * tokens may outlive a shorter lifetime on paper, but die with the service account when it is deleted).
 */
export const SETTING_BOUNDS = {
  kubeconfigValiditySeconds: { minimum: 600, maximum: 365 * 24 * 3600 },
  saLifetimeSeconds: { minimum: 10, maximum: 30 * 24 * 3600 },
} as const;

export class SettingsStore {
  readonly #cache: GenerationCache<OrgSettings>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangeFeed,
    private readonly clock: () => number = Date.now,
  ) {
    this.#cache = new GenerationCache(changes, clock);
  }

  async get(orgId: string): Promise<OrgSettings> {
    return this.#cache.get(orgId, async () => {
      const row = await this.db
        .selectFrom('org_settings')
        .selectAll()
        .where('org_id', '=', orgId)
        .executeTakeFirst();
      return row
        ? {
            kubeconfigValiditySeconds: Number(row.kubeconfig_validity_s),
            saLifetimeSeconds: Number(row.sa_lifetime_s),
            webKubectl: row.web_kubectl === 1,
            cliKubectl: row.cli_kubectl === 1,
          }
        : DEFAULT_SETTINGS;
    });
  }

  async update(orgId: string, patch: Partial<OrgSettings>): Promise<OrgSettings> {
    const next = { ...(await this.get(orgId)), ...patch };
    const values = {
      kubeconfig_validity_s: next.kubeconfigValiditySeconds,
      sa_lifetime_s: next.saLifetimeSeconds,
      web_kubectl: next.webKubectl ? 1 : 0,
      cli_kubectl: next.cliKubectl ? 1 : 0,
      updated_at: this.clock(),
    } as const;
    await this.db
      .insertInto('org_settings')
      .values({ org_id: orgId, ...values })
      .onConflict((oc) => oc.column('org_id').doUpdateSet(values))
      .execute();
    this.changes.emit({ kind: 'settings', orgId });
    return next;
  }
}
