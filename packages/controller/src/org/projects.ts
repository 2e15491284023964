// Projects group an org's clusters; project and namespace roles are granted per project.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ZtkaError } from '@ztka/protocol';
import type { Database } from '../store/schema.js';
import { checkLabel, conflict, isUniqueViolation } from './names.js';
import { toPage, type Page, type PageRequest } from './page.js';

export interface ProjectView {
  name: string;
  clusters: number;
  createdAt: string;
}

export class ProjectStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number = Date.now,
  ) {}

  async create(orgId: string, name: string): Promise<ProjectView> {
    checkLabel('project', name);
    const createdAt = this.clock();
    try {
      await this.db
        .insertInto('projects')
        .values({ id: randomUUID(), org_id: orgId, name, created_at: createdAt })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('project', name);
      throw err;
    }
    return { name, clusters: 0, createdAt: new Date(createdAt).toISOString() };
  }

  /** The project's id, or undefined. */
  async find(orgId: string, name: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('projects')
      .select('id')
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.id;
  }

  /** `visible` null lists every project; otherwise only those ids. */
  async list(
    orgId: string,
    page: PageRequest,
    visible: ReadonlySet<string> | null,
  ): Promise<Page<ProjectView & { id: string }>> {
    if (visible !== null && visible.size === 0) return { items: [] };
    let query = this.db
      .selectFrom('projects')
      .leftJoin('clusters', 'clusters.project_id', 'projects.id')
      .select((eb) => [
        'projects.id as id',
        'projects.name as name',
        'projects.created_at as createdAt',
        eb.fn.count<number>('clusters.id').as('clusters'),
      ])
      .where('projects.org_id', '=', orgId)
      .groupBy(['projects.id', 'projects.name', 'projects.created_at']);
    if (visible !== null) query = query.where('projects.id', 'in', [...visible]);
    if (page.after !== undefined) query = query.where('projects.name', '>', page.after);
    const rows = await query
      .orderBy('projects.name')
      .limit(page.limit + 1)
      .execute();
    return toPage(
      rows.map((r) => ({
        id: r.id,
        name: r.name,
        clusters: Number(r.clusters),
        createdAt: new Date(Number(r.createdAt)).toISOString(),
      })),
      page,
      (p) => p.name,
    );
  }

  /** Deletes an empty project; one that still holds clusters is a conflict, and nothing changes. */
  async delete(orgId: string, name: string): Promise<void> {
    // One statement: a cluster created between a check and the delete would otherwise vanish with it.
    const result = await this.db
      .deleteFrom('projects')
      .where('org_id', '=', orgId)
      .where('name', '=', name)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('clusters').select('clusters.id').whereRef('clusters.project_id', '=', 'projects.id'),
          ),
        ),
      )
      .executeTakeFirst();
    if (result.numDeletedRows > 0n) return;
    if (await this.find(orgId, name))
      throw new ZtkaError(
        'conflict',
        `project ${JSON.stringify(name)} still holds clusters; delete them first`,
      );
    throw new ZtkaError('not_found', `project ${JSON.stringify(name)} not found`);
  }
}
