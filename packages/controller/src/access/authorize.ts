// What a principal may do, decided from their current assignments. The proxy asks on every request, so
// assignments and cluster scopes are cached per org-change generation (and for at most a second, for
// changes made by another replica).
import type { Kysely } from 'kysely';
import { ZtkaError, type TunnelIdentity } from '@ztka/protocol';
import type { CredentialStore, Principal } from '../auth/credentials.js';
import { GenerationCache, type ChangeFeed } from '../org/changes.js';
import type { RoleAssignments } from '../org/role-assignments.js';
import type { SettingsStore } from '../org/settings.js';
import type { Database } from '../store/schema.js';
import { apiPowers, effectiveAccess, type ApiPowers, type Assignment } from './effective.js';

export interface ClusterScope {
  clusterId: string;
  projectId: string;
  project: string;
  orgId: string;
}

/**
 * The same refusal for a cluster that does not exist and one the caller may not reach, on the proxy and
 * the API alike: someone without access learns nothing about which clusters exist.
 */
export const noClusterAccess = (cluster: string): ZtkaError =>
  new ZtkaError('forbidden', `Forbidden: you have no access to cluster ${JSON.stringify(cluster)}`);

export class Access {
  readonly #assignments: GenerationCache<Assignment[]>;
  readonly #scopes: GenerationCache<ClusterScope | undefined>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly roles: RoleAssignments,
    private readonly settings: SettingsStore,
    private readonly credentials: Pick<CredentialStore, 'reverify'>,
    changes: ChangeFeed,
    clock: () => number = Date.now,
  ) {
    this.#assignments = new GenerationCache(changes, clock);
    this.#scopes = new GenerationCache(changes, clock);
  }

  assignments(userId: string): Promise<Assignment[]> {
    return this.#assignments.get(userId, () => this.roles.forUser(userId));
  }

  async powers(principal: Principal): Promise<ApiPowers> {
    return apiPowers(await this.assignments(principal.userId));
  }

  clusterScope(cluster: string): Promise<ClusterScope | undefined> {
    return this.#scopes.get(cluster, async () => {
      const row = await this.db
        .selectFrom('clusters')
        .innerJoin('projects', 'projects.id', 'clusters.project_id')
        .select([
          'clusters.id as clusterId',
          'projects.id as projectId',
          'projects.name as project',
          'projects.org_id as orgId',
        ])
        .where('clusters.name', '=', cluster)
        .executeTakeFirst();
      return row;
    });
  }

  /**
   * What a principal verified earlier may do on `cluster` now, or undefined if no longer anything: how a
   * request in flight (a watch, an exec) and an open browser shell are checked again after a change. The
   * credential is read afresh; its channel, cluster binding and shell session are the principal's.
   */
  async reauthorize(principal: Principal, cluster: string): Promise<TunnelIdentity | undefined> {
    const still = await this.credentials.reverify(principal.credentialId);
    if (!still) return undefined;
    const { channel, clusterId, sessionId } = principal;
    return this.kubeIdentity({ ...still, channel, clusterId, sessionId }, cluster).catch(() => undefined);
  }

  /**
   * Whether `principal` may send kube requests to `cluster` now, and as what. Only kube credentials
   * (kubeconfig credentials, kube tokens) reach clusters; the channel must be open in the org's settings; a
   * token bound to another cluster is refused. Throws ZtkaError 403 (404 only to an org admin, for a cluster
   * that does not exist).
   */
  async kubeIdentity(principal: Principal, cluster: string): Promise<TunnelIdentity> {
    const scope = await this.clusterScope(cluster);
    const assignments = await this.assignments(principal.userId);
    const access =
      scope && scope.orgId === principal.orgId ? effectiveAccess(assignments, scope.projectId) : undefined;
    if (!scope || !access) {
      if (!scope && apiPowers(assignments).orgReader)
        throw new ZtkaError('not_found', `unknown cluster "${cluster}"`);
      throw noClusterAccess(cluster);
    }
    if (principal.clusterId !== null && principal.clusterId !== scope.clusterId)
      throw new ZtkaError(
        'forbidden',
        `Forbidden: this token was issued for another cluster, not ${cluster}`,
      );
    const channel = principal.channel ?? 'cli';
    const settings = await this.settings.get(principal.orgId);
    if (channel === 'cli' && !settings.cliKubectl)
      throw new ZtkaError(
        'forbidden',
        'Forbidden: kubectl from the command line is switched off for this org',
      );
    if (channel === 'web-shell' && !settings.webKubectl)
      throw new ZtkaError('forbidden', 'Forbidden: the browser kubectl shell is switched off for this org');
    return {
      user: principal.username,
      userId: principal.userId,
      channel,
      ...access,
      saLifetimeSeconds: settings.saLifetimeSeconds,
      // Only the admin of namespaces can create pods there; the agent labels those before it binds them.
      ...(access.role === 'NAMESPACE_ADMIN' && settings.namespacePodSecurity !== 'off'
        ? { podSecurity: settings.namespacePodSecurity }
        : {}),
      ...(principal.sessionId ? { sessionId: principal.sessionId } : {}),
    };
  }
}
