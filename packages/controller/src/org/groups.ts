// Groups of users: a member holds the group's role assignments as their own.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ZtkaError } from '@ztka/protocol';
import type { Database } from '../store/schema.js';
import type { ChangeFeed } from './changes.js';
import { checkLabel, conflict, isUniqueViolation } from './names.js';
import { toPage, type Page, type PageRequest } from './page.js';
import type { UserRecord } from './users.js';

export interface GroupView {
  name: string;
  members: string[];
  createdAt: string;
}

export class GroupDirectory {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangeFeed,
    private readonly clock: () => number = Date.now,
  ) {}

  async create(orgId: string, name: string): Promise<GroupView> {
    checkLabel('group', name);
    const createdAt = this.clock();
    try {
      await this.db
        .insertInto('groups')
        .values({ id: randomUUID(), org_id: orgId, name, created_at: createdAt })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('group', name);
      throw err;
    }
    return { name, members: [], createdAt: new Date(createdAt).toISOString() };
  }

  /**
   * The id of a group, or a 404 naming it. With `memberId`, only a group that user belongs to is found: for
   * anyone else an existing group and a missing one give the same 404.
   */
  async idOf(orgId: string, name: string, opts: { memberId?: string } = {}): Promise<string> {
    let query = this.db
      .selectFrom('groups')
      .select('groups.id')
      .where('groups.org_id', '=', orgId)
      .where('groups.name', '=', name);
    if (opts.memberId !== undefined)
      query = query
        .innerJoin('group_members', 'group_members.group_id', 'groups.id')
        .where('group_members.user_id', '=', opts.memberId);
    const row = await query.executeTakeFirst();
    if (!row) throw new ZtkaError('not_found', `group ${JSON.stringify(name)} not found`);
    return row.id;
  }

  async list(orgId: string, page: PageRequest): Promise<Page<GroupView>> {
    let query = this.db.selectFrom('groups').selectAll().where('org_id', '=', orgId);
    if (page.after !== undefined) query = query.where('name', '>', page.after);
    const rows = await query
      .orderBy('name')
      .limit(page.limit + 1)
      .execute();
    const result = toPage(rows, page, (g) => g.name);
    const items = await Promise.all(
      result.items.map(async (g) => ({
        name: g.name,
        members: (
          await this.db
            .selectFrom('group_members')
            .innerJoin('users', 'users.id', 'group_members.user_id')
            .select('users.username')
            .where('group_members.group_id', '=', g.id)
            .orderBy('users.username')
            .execute()
        ).map((m) => m.username),
        createdAt: new Date(Number(g.created_at)).toISOString(),
      })),
    );
    return { ...result, items };
  }

  async delete(orgId: string, name: string): Promise<void> {
    const id = await this.idOf(orgId, name);
    await this.db.deleteFrom('groups').where('id', '=', id).execute();
    // Its members lose whatever the group gave them.
    this.changes.emit({ kind: 'assignments', userIds: 'all' });
  }

  async addMember(orgId: string, name: string, user: UserRecord): Promise<void> {
    const id = await this.idOf(orgId, name);
    await this.db
      .insertInto('group_members')
      .values({ group_id: id, user_id: user.id, source: null })
      // A membership an admin makes stays, even when a single sign-on provider had given it too.
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doUpdateSet({ source: null }))
      .execute();
    this.changes.emit({ kind: 'assignments', userIds: [user.id] });
  }

  async removeMember(orgId: string, name: string, user: UserRecord): Promise<void> {
    const id = await this.idOf(orgId, name);
    const result = await this.db
      .deleteFrom('group_members')
      .where('group_id', '=', id)
      .where('user_id', '=', user.id)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n)
      throw new ZtkaError('not_found', `${user.username} is not a member of group ${JSON.stringify(name)}`);
    this.changes.emit({ kind: 'assignments', userIds: [user.id] });
  }
}
