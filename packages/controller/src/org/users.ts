// People: local users of an org, their passwords (hashed) and their enabled state. Setting a password,
// disabling or deleting a user revokes every credential they hold in the same transaction, and announces
// the change.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ZtkaError } from '@ztka/protocol';
import { totpStateOf, type TotpState } from '../auth/totp.js';
import type { Database, UsersTable } from '../store/schema.js';
import type { ChangeFeed } from './changes.js';
import { conflict, isUniqueViolation, normaliseUsername } from './names.js';
import { toPage, type Page, type PageRequest } from './page.js';

export interface UserRecord {
  id: string;
  orgId: string;
  username: string;
  passwordHash: string | null;
  disabled: boolean;
  createdAt: number;
}

export interface UserView {
  username: string;
  disabled: boolean;
  hasPassword: boolean;
  /** Their TOTP second factor: none, enrolled but not yet confirmed, or on. */
  totp: TotpState;
  groups: string[];
  createdAt: string;
}

/** Every credential of the user still in force ends now (a disable, a password change or reset). */
export async function revokeAllCredentials(
  trx: Kysely<Database>,
  userId: string,
  now: number,
): Promise<void> {
  await trx
    .updateTable('credentials')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .execute();
}

export class UserDirectory {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangeFeed,
    private readonly clock: () => number = Date.now,
  ) {}

  async create(orgId: string, username: string, passwordHash: string | null): Promise<UserRecord> {
    const name = normaliseUsername(username);
    const row = {
      id: randomUUID(),
      org_id: orgId,
      username: name,
      password_hash: passwordHash,
      disabled_at: null,
      created_at: this.clock(),
    };
    try {
      await this.db.insertInto('users').values(row).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('user', name, '/username');
      throw err;
    }
    return toRecord(row);
  }

  async find(username: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username.toLowerCase())
      .executeTakeFirst();
    return row && toRecord(row);
  }

  async byId(id: string): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  /** The user, or a 404 naming them. */
  async get(orgId: string, username: string): Promise<UserRecord> {
    const user = await this.find(username);
    if (!user || user.orgId !== orgId)
      throw new ZtkaError('not_found', `user ${JSON.stringify(username)} not found`);
    return user;
  }

  async view(user: UserRecord): Promise<UserView> {
    const groups = await this.db
      .selectFrom('group_members')
      .innerJoin('groups', 'groups.id', 'group_members.group_id')
      .select('groups.name')
      .where('group_members.user_id', '=', user.id)
      .orderBy('groups.name')
      .execute();
    const totp = await this.db
      .selectFrom('user_totp')
      .select('confirmed_at')
      .where('user_id', '=', user.id)
      .executeTakeFirst();
    return toView(
      user,
      groups.map((g) => g.name),
      totpStateOf(totp),
    );
  }

  async list(orgId: string, page: PageRequest): Promise<Page<UserView>> {
    let query = this.db.selectFrom('users').selectAll().where('org_id', '=', orgId);
    if (page.after !== undefined) query = query.where('username', '>', page.after);
    const rows = await query
      .orderBy('username')
      .limit(page.limit + 1)
      .execute();
    const result = toPage(rows.map(toRecord), page, (u) => u.username);
    return { ...result, items: await Promise.all(result.items.map((u) => this.view(u))) };
  }

  /**
   * Sets a new password and revokes every credential the user holds, in one transaction: whoever knew the
   * old password may hold any of them (sessions, API keys, kubeconfig credentials, kube tokens). Announced
   * like disabling, so open watches, execs and browser shells end and the clusters drop the user's service
   * account; the person logs in again with the new password.
   */
  async setPassword(user: UserRecord, passwordHash: string): Promise<void> {
    const now = this.clock();
    await this.db.transaction().execute(async (trx) => {
      // The user's row first: a credential being issued meanwhile waits for it (CredentialStore.issue).
      await trx.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', user.id).execute();
      await revokeAllCredentials(trx, user.id, now);
    });
    this.changes.emit({ kind: 'user', userId: user.id, username: user.username, what: 'password' });
  }

  /**
   * Stores a stronger hash of the password a login just checked, unless the password changed meanwhile (a
   * reset must never be undone by a login that checked the old password).
   */
  async rehash(user: UserRecord, checkedHash: string, strongerHash: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ password_hash: strongerHash })
      .where('id', '=', user.id)
      .where('password_hash', '=', checkedHash)
      .execute();
  }

  /** Disables or enables; disabling revokes every credential of the user at once. */
  async setDisabled(user: UserRecord, disabled: boolean): Promise<void> {
    const now = this.clock();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('users')
        .set({ disabled_at: disabled ? now : null })
        .where('id', '=', user.id)
        .execute();
      if (disabled) await revokeAllCredentials(trx, user.id, now);
    });
    this.changes.emit({
      kind: 'user',
      userId: user.id,
      username: user.username,
      what: disabled ? 'disabled' : 'enabled',
    });
  }

  /** Deletes the user; credentials, memberships and assignments go with them (foreign keys cascade). */
  async delete(user: UserRecord): Promise<void> {
    await this.db.deleteFrom('users').where('id', '=', user.id).execute();
    this.changes.emit({ kind: 'user', userId: user.id, username: user.username, what: 'deleted' });
  }
}

function toRecord(row: UsersTable): UserRecord {
  return {
    id: row.id,
    orgId: row.org_id,
    username: row.username,
    passwordHash: row.password_hash,
    disabled: row.disabled_at !== null,
    createdAt: Number(row.created_at),
  };
}

function toView(user: UserRecord, groups: string[], totp: UserView['totp']): UserView {
  return {
    username: user.username,
    disabled: user.disabled,
    hasPassword: user.passwordHash !== null,
    totp,
    groups,
    createdAt: new Date(user.createdAt).toISOString(),
  };
}
