// Clusters: the records operators create, one per Kubernetes cluster, and what their agents report.
// Registering an agent is bootstrap-tokens.ts; how it authenticates afterwards is agent-credentials.ts.
//
// All times come from the injected clock and are stored as epoch milliseconds (see store/schema.ts).
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { DEFAULT_ORG, ZtkaError } from '@ztka/protocol';
import { checkLabel, conflict } from '../org/names.js';
import type { Database } from '../store/schema.js';
import type { BootstrapToken, BootstrapTokens } from './bootstrap-tokens.js';

const VERSION_MAX = 256;

/** What a caller may see of a cluster. Times are ISO-8601 strings (UTC). */
export interface ClusterView {
  name: string;
  org: string;
  project: string;
  /** UID of the cluster's kube-system namespace, null until the agent's first bootstrap exchange. */
  identity: string | null;
  connected: boolean;
  lastSeenAt: string | null;
  agentVersion: string | null;
  kubeVersion: string | null;
  createdAt: string;
}

const clusterNotFound = (clusterName: string): ZtkaError =>
  new ZtkaError('not_found', `cluster ${JSON.stringify(clusterName)} not found`);

/** The id of a cluster by name, inside a transaction; a ZtkaError `not_found` when there is none. */
export async function clusterIdOf(trx: Transaction<Database>, clusterName: string): Promise<string> {
  const cluster = await trx
    .selectFrom('clusters')
    .select('id')
    .where('name', '=', clusterName)
    .executeTakeFirst();
  if (!cluster) throw clusterNotFound(clusterName);
  return cluster.id;
}

// Versions are reported by the agent and shown to operators: informational, so normalised rather than
// refused (a missing version must not stop a tunnel from being recorded as connected).
function normaliseVersion(version: unknown): string | null {
  if (typeof version !== 'string') return null;
  const trimmed = version.trim().slice(0, VERSION_MAX);
  return trimmed === '' ? null : trimmed;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class ClusterStore {
  constructor(
    private readonly db: Kysely<Database>,
    /** Each new cluster gets its first bootstrap token in the transaction that creates it. */
    private readonly tokens: BootstrapTokens,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Creates a cluster and its first bootstrap token. `project` names an existing project of `org`, which
   * defaults to DEFAULT_ORG. Cluster names are DNS-1123 labels, unique across the whole controller (not
   * just the project), since agents and kubectl address clusters by name.
   */
  async create(input: {
    project: string;
    name: string;
    org?: string;
  }): Promise<{ cluster: ClusterView; bootstrapToken: BootstrapToken }> {
    checkLabel('cluster', input.name);
    const org = input.org ?? DEFAULT_ORG;
    const now = this.clock();
    const bootstrapToken = await this.db.transaction().execute(async (trx) => {
      const project = await trx
        .selectFrom('projects')
        .innerJoin('orgs', 'orgs.id', 'projects.org_id')
        .select('projects.id as id')
        .where('orgs.name', '=', org)
        .where('projects.name', '=', input.project)
        .executeTakeFirst();
      if (!project) {
        throw new ZtkaError(
          'not_found',
          `project ${JSON.stringify(input.project)} not found in org ${JSON.stringify(org)}`,
        );
      }
      const clusterId = randomUUID();
      // ON CONFLICT DO NOTHING rather than catching a constraint error: portable, and race-free.
      const inserted = await trx
        .insertInto('clusters')
        .values({
          id: clusterId,
          project_id: project.id,
          name: input.name,
          created_at: now,
          identity: null,
          agent_version: null,
          kube_version: null,
          jit_namespace: null,
          last_seen_at: null,
          connected: 0,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) throw conflict('cluster', input.name);
      return this.tokens.insert(trx, clusterId);
    });
    const cluster = await this.get(input.name);
    if (!cluster) throw new Error(`cluster ${input.name} vanished right after being created`);
    return { cluster, bootstrapToken };
  }

  // The status marks below do nothing for an unknown cluster (a status update about a cluster that does not
  // exist has nothing to update), so that fire-and-forget callers on the tunnel path never see a rejection.

  /**
   * Records what the cluster's agent reported as its tunnel opened: its versions and its JIT namespace
   * (kept, so that role assignments can be refused for it while the agent is away). Versions are trimmed and
   * cut to 256 characters; an empty one is stored as null. Whether the cluster is connected follows where
   * its tunnel is (peers/locations.ts).
   */
  async recordAgent(
    clusterName: string,
    info: { agentVersion: string; kubeVersion: string; jitNamespace?: string },
  ): Promise<void> {
    await this.#update(clusterName, {
      agent_version: normaliseVersion(info.agentVersion),
      kube_version: normaliseVersion(info.kubeVersion),
      ...(info.jitNamespace ? { jit_namespace: info.jitNamespace } : {}),
      last_seen_at: this.clock(),
    });
  }

  /** Records a sign of life from the cluster's agent (e.g. a heartbeat). */
  async markSeen(clusterName: string): Promise<void> {
    await this.#update(clusterName, { last_seen_at: this.clock() });
  }

  /** Deletes a cluster with its tokens and agent credentials (foreign keys cascade); false if unknown. */
  async delete(clusterName: string): Promise<boolean> {
    const result = await this.db.deleteFrom('clusters').where('name', '=', clusterName).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async get(name: string): Promise<ClusterView | undefined> {
    const row = await this.#views().where('clusters.name', '=', name).executeTakeFirst();
    return row && toView(row);
  }

  /**
   * All clusters, ordered by name; or only those in projects named `project` (in any org, unless `org` is
   * given too), or only those in the projects `projectIds`.
   */
  async list(project?: string, org?: string, projectIds?: ReadonlySet<string>): Promise<ClusterView[]> {
    if (projectIds !== undefined && projectIds.size === 0) return [];
    let query = this.#views();
    if (project !== undefined) query = query.where('projects.name', '=', project);
    if (org !== undefined) query = query.where('orgs.name', '=', org);
    if (projectIds !== undefined) query = query.where('projects.id', 'in', [...projectIds]);
    const rows = await query.orderBy('clusters.name').execute();
    return rows.map(toView);
  }

  #views() {
    return this.db
      .selectFrom('clusters')
      .innerJoin('projects', 'projects.id', 'clusters.project_id')
      .innerJoin('orgs', 'orgs.id', 'projects.org_id')
      .select([
        'clusters.name as name',
        'orgs.name as org',
        'projects.name as project',
        'clusters.identity as identity',
        'clusters.connected as connected',
        'clusters.last_seen_at as lastSeenAt',
        'clusters.agent_version as agentVersion',
        'clusters.kube_version as kubeVersion',
        'clusters.created_at as createdAt',
      ]);
  }

  async #update(
    clusterName: string,
    values: {
      agent_version?: string | null;
      kube_version?: string | null;
      jit_namespace?: string;
      last_seen_at: number;
    },
  ): Promise<void> {
    await this.db.updateTable('clusters').set(values).where('name', '=', clusterName).execute();
  }
}

function toView(row: {
  name: string;
  org: string;
  project: string;
  identity: string | null;
  connected: number;
  lastSeenAt: number | null;
  agentVersion: string | null;
  kubeVersion: string | null;
  createdAt: number;
}): ClusterView {
  return {
    name: row.name,
    org: row.org,
    project: row.project,
    identity: row.identity,
    connected: row.connected === 1,
    lastSeenAt: row.lastSeenAt === null ? null : iso(row.lastSeenAt),
    agentVersion: row.agentVersion,
    kubeVersion: row.kubeVersion,
    createdAt: iso(row.createdAt),
  };
}
