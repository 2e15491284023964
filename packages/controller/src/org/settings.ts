// Org settings: how long kubeconfig credentials and JIT service accounts live, which kubectl channels are
// open, and the Pod Security level of granted namespaces. Read on every proxied request, so cached until the
// next change.
import type { Kysely } from 'kysely';
import { isNamespacePodSecurity, type NamespacePodSecurity } from '@ztka/protocol';
import type { Database } from '../store/schema.js';
import { GenerationCache, type ChangeFeed } from './changes.js';

export interface OrgSettings {
  kubeconfigValiditySeconds: number;
  saLifetimeSeconds: number;
  webKubectl: boolean;
  cliKubectl: boolean;
  /** The Pod Security level the agent labels the namespaces of NAMESPACE_ADMIN grants with, or `off`. */
  namespacePodSecurity: NamespacePodSecurity;
}

export const DEFAULT_SETTINGS: OrgSettings = Object.freeze({
  kubeconfigValiditySeconds: 30 * 24 * 3600,
  saLifetimeSeconds: 8 * 3600,
  webKubectl: true,
  cliKubectl: true,
  namespacePodSecurity: 'off',
});

/**
 * Bounds: a kubeconfig lives 10 min to 1 year; a JIT service account 10 s to 30 days of idleness (its
 * tokens may outlive a shorter lifetime on paper, but die with the service account when it is deleted).
 */
export const SETTING_BOUNDS = {
  kubeconfigValiditySeconds: { minimum: 600, maximum: 365 * 24 * 3600 },
  saLifetimeSeconds: { minimum: 10, maximum: 30 * 24 * 3600 },
} as const;

/**
 * A value this controller does not know (written by a newer one) is read as the strictest level rather
 * than as `off`: an unknown requirement is never dropped.
 */
const podSecurityOf = (value: string): NamespacePodSecurity =>
  isNamespacePodSecurity(value) ? value : 'restricted';

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
            namespacePodSecurity: podSecurityOf(row.namespace_pod_security),
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
      namespace_pod_security: next.namespacePodSecurity,
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
