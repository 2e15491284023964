// Org settings: how long kubeconfig credentials and JIT service accounts live, which kubectl channels are
// open, the Pod Security level of granted namespaces, and how people may log in with a password. Read on
// every proxied request and every login, so cached until the next change.
import type { Kysely, Transaction } from 'kysely';
import {
  isNamespacePodSecurity,
  ZtkaError,
  type NamespacePodSecurity,
  type OrgSettings,
} from '@ztka/protocol';
import type { Database } from '../store/schema.js';
import { GenerationCache, type ChangeFeed } from './changes.js';
import { revokeAllCredentials } from './users.js';

export type { OrgSettings };

export const DEFAULT_SETTINGS: OrgSettings = Object.freeze({
  kubeconfigValiditySeconds: 30 * 24 * 3600,
  saLifetimeSeconds: 8 * 3600,
  webKubectl: true,
  cliKubectl: true,
  namespacePodSecurity: 'off',
  requireTotp: false,
  ssoOnly: false,
  breakGlassUser: '',
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

const badBreakGlass = (message: string) =>
  new ZtkaError('bad_request', message, { field: '/breakGlassUser' });

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
        .leftJoin('users', 'users.id', 'org_settings.break_glass_user_id')
        .selectAll('org_settings')
        .select('users.username as break_glass_username')
        .where('org_settings.org_id', '=', orgId)
        .executeTakeFirst();
      return row
        ? {
            kubeconfigValiditySeconds: Number(row.kubeconfig_validity_s),
            saLifetimeSeconds: Number(row.sa_lifetime_s),
            webKubectl: row.web_kubectl === 1,
            cliKubectl: row.cli_kubectl === 1,
            namespacePodSecurity: podSecurityOf(row.namespace_pod_security),
            requireTotp: row.require_totp === 1,
            ssoOnly: row.sso_only === 1,
            breakGlassUser: row.break_glass_username ?? '',
          }
        : DEFAULT_SETTINGS;
    });
  }

  /**
   * Applies `patch` (`breakGlassUser` by username, '' for none). Turning ssoOnly on, or naming another
   * break-glass user while it is on, needs a break-glass user who can still get in (exists, enabled, holds a
   * password, is an org ADMIN in their own name, not through a group that someone could empty), and ends
   * every credential of every other person who holds a password, in the same transaction: a session opened
   * with a password must not outlive the rule that password logins are over.
   */
  async update(orgId: string, patch: Partial<OrgSettings>): Promise<OrgSettings> {
    const current = await this.get(orgId);
    const now = this.clock();
    const signedOut = await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('org_settings')
        .select(['sso_only', 'break_glass_user_id'])
        .where('org_id', '=', orgId)
        .executeTakeFirst();
      const wasSsoOnly = row?.sso_only === 1;
      const previousBreakGlass = row?.break_glass_user_id ?? null;
      const breakGlassId =
        patch.breakGlassUser === undefined
          ? previousBreakGlass
          : patch.breakGlassUser === ''
            ? null
            : await userIdOf(trx, orgId, patch.breakGlassUser);
      const next = { ...current, ...patch };
      const values = {
        kubeconfig_validity_s: next.kubeconfigValiditySeconds,
        sa_lifetime_s: next.saLifetimeSeconds,
        web_kubectl: next.webKubectl ? 1 : 0,
        cli_kubectl: next.cliKubectl ? 1 : 0,
        namespace_pod_security: next.namespacePodSecurity,
        require_totp: next.requireTotp ? 1 : 0,
        sso_only: next.ssoOnly ? 1 : 0,
        break_glass_user_id: breakGlassId,
        updated_at: now,
      } as const;
      await trx
        .insertInto('org_settings')
        .values({ org_id: orgId, ...values })
        .onConflict((oc) => oc.column('org_id').doUpdateSet(values))
        .execute();
      if (!next.ssoOnly || (wasSsoOnly && breakGlassId === previousBreakGlass)) return [];
      await checkBreakGlass(trx, orgId, breakGlassId);
      return signOutPasswordHolders(trx, orgId, breakGlassId ?? '', now);
    });
    this.changes.emit({ kind: 'settings', orgId });
    for (const user of signedOut)
      this.changes.emit({ kind: 'user', userId: user.id, username: user.username, what: 'signed-out' });
    return this.get(orgId);
  }
}

async function userIdOf(trx: Transaction<Database>, orgId: string, username: string): Promise<string> {
  const user = await trx
    .selectFrom('users')
    .select('id')
    .where('org_id', '=', orgId)
    .where('username', '=', username.toLowerCase())
    .executeTakeFirst();
  if (!user) throw badBreakGlass(`user ${JSON.stringify(username)} not found`);
  return user.id;
}

async function checkBreakGlass(
  trx: Transaction<Database>,
  orgId: string,
  userId: string | null,
): Promise<void> {
  const why = 'ssoOnly needs a break-glass user who can still log in with a password';
  if (userId === null) throw badBreakGlass(`${why}: set breakGlassUser to an org ADMIN who holds a password`);
  const user = await trx
    .selectFrom('users')
    .select(['username', 'password_hash', 'disabled_at'])
    .where('id', '=', userId)
    .where('org_id', '=', orgId)
    .executeTakeFirst();
  if (!user) throw badBreakGlass(`${why}: the break-glass user no longer exists`);
  const name = JSON.stringify(user.username);
  if (user.password_hash === null) throw badBreakGlass(`${why}: ${name} has no password`);
  if (user.disabled_at !== null) throw badBreakGlass(`${why}: ${name} is disabled`);
  const admin = await trx
    .selectFrom('role_assignments')
    .select('id')
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .where('role', '=', 'ADMIN')
    .where('project_id', 'is', null)
    .executeTakeFirst();
  if (!admin)
    throw badBreakGlass(`${why}: ${name} must hold the org role ADMIN directly (not through a group)`);
}

/** Revokes every live credential of the org's password holders but `keepId`; returns who lost any. */
async function signOutPasswordHolders(
  trx: Transaction<Database>,
  orgId: string,
  keepId: string,
  now: number,
): Promise<{ id: string; username: string }[]> {
  const holders = await trx
    .selectFrom('users')
    .select(['id', 'username'])
    .where('org_id', '=', orgId)
    .where('password_hash', 'is not', null)
    .where('id', '!=', keepId)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('credentials')
          .select('credentials.id')
          .whereRef('credentials.user_id', '=', 'users.id')
          .where('credentials.revoked_at', 'is', null),
      ),
    )
    .execute();
  for (const user of holders) await revokeAllCredentials(trx, user.id, now);
  return holders;
}
