// People as a provider knows them. A first login creates the person (with no access of their own: only what
// their groups give); every login and refresh brings their group memberships in line with the provider's;
// a session the provider stops vouching for ends everything the person holds, as a disable does.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ChangeFeed } from '../../org/changes.js';
import { isUniqueViolation } from '../../org/names.js';
import { revokeAllCredentials } from '../../org/users.js';
import type { Database } from '../../store/schema.js';
import type { SecretBox } from '../../store/sealed.js';
import { explicitlyMapped, mappedGroups, type Person } from './claims.js';
import { OidcError } from './oidc.js';
import type { Provider } from './providers.js';

export interface SignedIn {
  userId: string;
  username: string;
  orgId: string;
  created: boolean;
  /** The ztka groups the person is in through this provider now. */
  groups: string[];
  added: string[];
  removed: string[];
  /** Every credential issued in this session ends by then. */
  sessionExpiresAt: number;
}

export interface IdentityDue {
  id: string;
  providerId: string;
  subject: string;
  userId: string;
  username: string;
  orgId: string;
  refreshToken: string;
}

const refreshContext = (id: string) => `oidc-refresh-token:${id}`;

export class SsoIdentities {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangeFeed,
    private readonly box: SecretBox,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The person of a successful login: found by the provider's subject, or created. A name already taken by
   * someone else (a local user, or a person of another provider) is refused: the provider choosing a name
   * must never be a way into an existing account.
   */
  async signIn(provider: Provider, person: Person, refreshToken: string | undefined): Promise<SignedIn> {
    const now = this.clock();
    const sessionExpiresAt = now + provider.maxSessionSeconds * 1000;
    let created: boolean;
    let identityId: string;
    let user: { id: string; username: string; orgId: string; disabled: boolean };
    try {
      ({ identityId, user, created } = await this.db.transaction().execute(async (trx) => {
        const known = await trx
          .selectFrom('sso_identities')
          .innerJoin('users', 'users.id', 'sso_identities.user_id')
          .select([
            'sso_identities.id as identityId',
            'sso_identities.issuer as issuer',
            'users.id as id',
            'users.username as username',
            'users.org_id as orgId',
            'users.disabled_at as disabledAt',
          ])
          .where('sso_identities.provider_id', '=', provider.id)
          .where('sso_identities.subject', '=', person.subject)
          .executeTakeFirst();
        if (known && known.issuer !== provider.issuer)
          // A subject is unique at its issuer only: the provider now points elsewhere, and that issuer's
          // subject of the same name is somebody else until an admin says otherwise.
          throw new OidcError(
            'issuer_changed',
            `${known.username} was linked at another issuer than ${provider.displayName} now uses: ask an admin`,
          );
        if (known) {
          await trx
            .updateTable('sso_identities')
            .set({
              email: person.email,
              groups: JSON.stringify(person.providerGroups),
              refresh_token: null,
              login_at: now,
              refreshed_at: now,
              session_expires_at: sessionExpiresAt,
            })
            .where('id', '=', known.identityId)
            .execute();
          return {
            identityId: known.identityId,
            user: {
              id: known.id,
              username: known.username,
              orgId: known.orgId,
              disabled: known.disabledAt !== null,
            },
            created: false,
          };
        }
        const taken = await trx
          .selectFrom('users')
          .select('id')
          .where('username', '=', person.username)
          .executeTakeFirst();
        if (taken)
          throw new OidcError(
            'username_taken',
            `an account named ${person.username} already exists and is not linked to ${provider.displayName}: ask an admin`,
          );
        const userId = randomUUID();
        const id = randomUUID();
        await trx
          .insertInto('users')
          .values({
            id: userId,
            org_id: provider.orgId,
            username: person.username,
            password_hash: null,
            disabled_at: null,
            created_at: now,
          })
          .execute();
        await trx
          .insertInto('sso_identities')
          .values({
            id,
            provider_id: provider.id,
            issuer: provider.issuer,
            subject: person.subject,
            user_id: userId,
            email: person.email,
            groups: JSON.stringify(person.providerGroups),
            refresh_token: null,
            login_at: now,
            refreshed_at: now,
            session_expires_at: sessionExpiresAt,
          })
          .execute();
        return {
          identityId: id,
          user: { id: userId, username: person.username, orgId: provider.orgId, disabled: false },
          created: true,
        };
      }));
    } catch (err) {
      if (isUniqueViolation(err))
        throw new OidcError(
          'username_taken',
          `an account named ${person.username} already exists: ask an admin`,
        );
      throw err;
    }
    if (user.disabled) throw new OidcError('user_disabled', `${user.username} is disabled in ztka`);
    if (refreshToken !== undefined) await this.#storeRefreshToken(identityId, refreshToken);
    const sync = await this.#syncGroups(provider, user.id, person.providerGroups);
    return {
      userId: user.id,
      username: user.username,
      orgId: user.orgId,
      created,
      ...sync,
      sessionExpiresAt,
    };
  }

  /** Records what a refresh said: groups (synced), and the rotated refresh token. */
  async refreshed(
    provider: Provider,
    due: IdentityDue,
    person: Person,
    refreshToken: string,
  ): Promise<{ added: string[]; removed: string[]; groups: string[] }> {
    await this.db
      .updateTable('sso_identities')
      .set({ email: person.email, groups: JSON.stringify(person.providerGroups), refreshed_at: this.clock() })
      .where('id', '=', due.id)
      .execute();
    if (refreshToken !== due.refreshToken) await this.#storeRefreshToken(due.id, refreshToken);
    return this.#syncGroups(provider, due.userId, person.providerGroups);
  }

  /** Marks a refresh attempted, so a provider that cannot be reached is not asked again at once. */
  async attempted(identityId: string): Promise<void> {
    await this.db
      .updateTable('sso_identities')
      .set({ refreshed_at: this.clock() })
      .where('id', '=', identityId)
      .execute();
  }

  /**
   * Sessions due a refresh: a refresh token held, the session not past its maximum age, the last refresh
   * at least `intervalMs` ago, and some credential of the person still live (an idle person costs nothing).
   */
  async due(intervalMs: number, limit = 100): Promise<IdentityDue[]> {
    const now = this.clock();
    const rows = await this.db
      .selectFrom('sso_identities')
      .innerJoin('users', 'users.id', 'sso_identities.user_id')
      .select([
        'sso_identities.id as id',
        'sso_identities.provider_id as providerId',
        'sso_identities.subject as subject',
        'sso_identities.refresh_token as refreshToken',
        'users.id as userId',
        'users.username as username',
        'users.org_id as orgId',
      ])
      .where('sso_identities.refresh_token', 'is not', null)
      .where('sso_identities.session_expires_at', '>', now)
      .where('sso_identities.refreshed_at', '<=', now - intervalMs)
      .where('users.disabled_at', 'is', null)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('credentials')
            .select('credentials.id')
            .whereRef('credentials.user_id', '=', 'users.id')
            .where('credentials.revoked_at', 'is', null)
            .where((c) =>
              c.or([c('credentials.expires_at', 'is', null), c('credentials.expires_at', '>', now)]),
            ),
        ),
      )
      .orderBy('sso_identities.refreshed_at')
      .limit(limit)
      .execute();
    const due: IdentityDue[] = [];
    for (const r of rows)
      if (r.refreshToken !== null)
        due.push({ ...r, refreshToken: this.box.open(r.refreshToken, refreshContext(r.id)) });
    return due;
  }

  /** Ends a session the provider no longer vouches for: every credential of the person, at once. */
  async end(userId: string, username: string): Promise<void> {
    const now = this.clock();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('sso_identities')
        .set({ refresh_token: null, session_expires_at: now })
        .where('user_id', '=', userId)
        .execute();
      await revokeAllCredentials(trx, userId, now);
    });
    this.changes.emit({ kind: 'user', userId, username, what: 'signed-out' });
  }

  /** The people of a provider, whose sessions end when it is removed. */
  async peopleOf(providerId: string): Promise<{ userId: string; username: string }[]> {
    return this.db
      .selectFrom('sso_identities')
      .innerJoin('users', 'users.id', 'sso_identities.user_id')
      .select(['users.id as userId', 'users.username as username'])
      .where('sso_identities.provider_id', '=', providerId)
      .execute();
  }

  /** Removes the group memberships a provider gave (it is gone): what they granted ends with them. */
  async forgetMemberships(providerId: string): Promise<void> {
    const gone = await this.db
      .deleteFrom('group_members')
      .where('source', '=', providerId)
      .executeTakeFirst();
    if (gone.numDeletedRows > 0n) this.changes.emit({ kind: 'assignments', userIds: 'all' });
  }

  async #storeRefreshToken(identityId: string, token: string): Promise<void> {
    await this.db
      .updateTable('sso_identities')
      .set({ refresh_token: this.box.seal(token, refreshContext(identityId)) })
      .where('id', '=', identityId)
      .execute();
  }

  /**
   * Brings the memberships this provider gave in line with its groups now. Memberships an admin made are
   * never touched; a group that does not exist in ztka is ignored (an admin creates it to give it roles).
   */
  async #syncGroups(
    provider: Provider,
    userId: string,
    providerGroups: readonly string[],
  ): Promise<{ added: string[]; removed: string[]; groups: string[] }> {
    const wanted = mappedGroups(providerGroups, provider);
    const explicit = explicitlyMapped(providerGroups, provider);
    const result = await this.db.transaction().execute(async (trx) => {
      // A refresh that began before its provider was removed must not give back what the removal took.
      const stillThere = await trx
        .selectFrom('sso_providers')
        .select('id')
        .where('id', '=', provider.id)
        .executeTakeFirst();
      if (!stillThere) return { added: [], removed: [], groups: [] };
      const found =
        wanted.length === 0
          ? []
          : await trx
              .selectFrom('groups')
              .select(['id', 'name'])
              .select((eb) =>
                eb
                  .exists(
                    eb
                      .selectFrom('role_assignments')
                      .select('role_assignments.id')
                      .whereRef('role_assignments.group_id', '=', 'groups.id')
                      .where('role_assignments.project_id', 'is', null),
                  )
                  .as('orgWide'),
              )
              .where('org_id', '=', provider.orgId)
              .where('name', 'in', wanted)
              .execute();
      // A group with an org-wide role (ADMIN, ADMIN_READ_ONLY) is granted only through the explicit mapping:
      // a provider group that merely shares its name must not make someone an org admin.
      const existing = found.filter((g) => explicit.has(g.name) || !g.orgWide);
      const current = await trx
        .selectFrom('group_members')
        .innerJoin('groups', 'groups.id', 'group_members.group_id')
        .select(['groups.id as id', 'groups.name as name', 'group_members.source as source'])
        .where('group_members.user_id', '=', userId)
        .execute();
      const wantedIds = new Set(existing.map((g) => g.id));
      const currentIds = new Set(current.map((g) => g.id));
      const removed = current.filter((g) => g.source === provider.id && !wantedIds.has(g.id));
      const added = existing.filter((g) => !currentIds.has(g.id));
      if (removed.length > 0)
        await trx
          .deleteFrom('group_members')
          .where('user_id', '=', userId)
          .where('source', '=', provider.id)
          .where(
            'group_id',
            'in',
            removed.map((g) => g.id),
          )
          .execute();
      if (added.length > 0)
        await trx
          .insertInto('group_members')
          .values(added.map((g) => ({ group_id: g.id, user_id: userId, source: provider.id })))
          .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
          .execute();
      return {
        added: added.map((g) => g.name).sort(),
        removed: removed.map((g) => g.name).sort(),
        groups: existing.map((g) => g.name).sort(),
      };
    });
    if (result.added.length > 0 || result.removed.length > 0)
      this.changes.emit({ kind: 'assignments', userIds: [userId] });
    return result;
  }
}
