// The cluster registry: orgs, projects and clusters, the bootstrap tokens that register an agent, and the
// long-lived credentials agents authenticate with afterwards.
//
// Registration flow:
//   1. An operator creates a cluster record and receives a bootstrap token (single use, expires, 24h default).
//   2. The agent, running in that cluster, presents the token together with the cluster's identity (the UID of
//      its kube-system namespace). The exchange consumes the token, binds the identity to the cluster record
//      on first use, and returns a fresh agent credential.
//   3. From then on the agent authenticates with its credential; the identity stays bound, so a later
//      bootstrap token for the same cluster only works from the same Kubernetes cluster.
//   The agent also sends the public half of a key pair it made for this registration. It is stored with the
//   credential, and on every connect the agent proves it holds the private half (@ztka/protocol's
//   agent-proof.ts; each proof's nonce is accepted once, consumeAgentProof), so the credential alone is
//   worthless to whoever copies it.
//
// All times come from the injected clock and are stored as epoch milliseconds (see store/schema.ts).
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { DEFAULT_ORG, DNS_LABEL_MAX, isDnsLabel, parseAgentPublicKey } from '@ztka/protocol';
import type { Database } from '../store/schema.js';
import { hashSecret, newSecret, parseToken, verifySecret } from '../store/secrets.js';

export const BOOTSTRAP_TOKEN_PREFIX = 'ztkb';
export const AGENT_CREDENTIAL_PREFIX = 'ztka';
export const DEFAULT_BOOTSTRAP_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

// A kube-system namespace UID is a UUID; accept any short token of UUID characters without being stricter.
const IDENTITY = /^[A-Za-z0-9-]{1,128}$/;
const VERSION_MAX = 256;
// Compared against when a token id is unknown, so that the time taken does not reveal whether the id exists.
const DUMMY_HASH = hashSecret('ztka-dummy-secret');

export type RegistryErrorCode =
  'invalid_name' | 'invalid_argument' | 'conflict' | 'not_found' | 'invalid_token' | 'identity_mismatch';

export class RegistryError extends Error {
  override name = 'RegistryError';
  readonly code: RegistryErrorCode;

  constructor(code: RegistryErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

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

export interface BootstrapToken {
  /** The token to give the agent (`ztkb_<id>.<secret>`); it is not stored and cannot be shown again. */
  token: string;
  expiresAt: string;
}

export interface AuthenticatedAgent {
  clusterId: string;
  clusterName: string;
  identity: string;
  /** The credential's lookup id: what the agent's key proof names, and what its nonces are kept under. */
  credentialId: string;
  /** The agent's registered public key (SPKI DER, base64url); null for a credential issued without one. */
  publicKey: string | null;
}

export interface ClusterRegistryOptions {
  /** Lifetime of bootstrap tokens; 24 hours by default. */
  bootstrapTokenTtlMs?: number;
  /** Milliseconds since the epoch; Date.now by default. Tests inject their own. */
  clock?: () => number;
}

// One message for every rejected token, so that a caller cannot tell unknown, wrong, used and expired apart.
const invalidToken = (): RegistryError =>
  new RegistryError('invalid_token', 'the bootstrap token is invalid, expired or already used');

const iso = (ms: number): string => new Date(ms).toISOString();

function checkName(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !isDnsLabel(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 80)) : typeof name;
    throw new RegistryError(
      'invalid_name',
      `${kind} name ${shown} is not a valid DNS-1123 label: use at most ${DNS_LABEL_MAX} lowercase ` +
        `letters, digits and '-', starting and ending with a letter or digit`,
    );
  }
}

// Versions are reported by the agent and shown to operators: informational, so normalised rather than
// refused (a missing version must not stop a tunnel from being recorded as connected).
function normaliseVersion(version: unknown): string | null {
  if (typeof version !== 'string') return null;
  const trimmed = version.trim().slice(0, VERSION_MAX);
  return trimmed === '' ? null : trimmed;
}

/** The id of a cluster by name, inside a transaction; a RegistryError `not_found` when there is none. */
async function clusterIdOf(trx: Transaction<Database>, clusterName: string): Promise<{ id: string }> {
  const cluster = await trx
    .selectFrom('clusters')
    .select('id')
    .where('name', '=', clusterName)
    .executeTakeFirst();
  if (!cluster) throw notFound(clusterName);
  return cluster;
}

export class ClusterRegistry {
  readonly #db: Kysely<Database>;
  readonly #clock: () => number;
  readonly #tokenTtlMs: number;

  /**
   * `new ClusterRegistry(db)`, `new ClusterRegistry(db, clock, options?)` or `new ClusterRegistry(db, options)`.
   * An explicit `clock` argument wins over `options.clock`.
   */
  constructor(db: Kysely<Database>, clock?: () => number, options?: ClusterRegistryOptions);
  constructor(db: Kysely<Database>, options?: ClusterRegistryOptions);
  constructor(
    db: Kysely<Database>,
    clockOrOptions?: (() => number) | ClusterRegistryOptions,
    maybeOptions: ClusterRegistryOptions = {},
  ) {
    const options = typeof clockOrOptions === 'object' ? clockOrOptions : maybeOptions;
    const clock =
      typeof clockOrOptions === 'function' ? clockOrOptions : (options.clock ?? (() => Date.now()));
    const ttl = options.bootstrapTokenTtlMs ?? DEFAULT_BOOTSTRAP_TOKEN_TTL_MS;
    if (!Number.isSafeInteger(ttl) || ttl <= 0) {
      throw new RangeError(`bootstrapTokenTtlMs must be a positive integer, got ${String(ttl)}`);
    }
    this.#db = db;
    this.#clock = clock;
    this.#tokenTtlMs = ttl;
  }

  /** Creates the org and the project within it unless they exist; returns their ids either way. */
  async ensureOrgAndProject(org: string, project: string): Promise<{ orgId: string; projectId: string }> {
    checkName('org', org);
    checkName('project', project);
    const now = this.#clock();
    return this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('orgs')
        .values({ id: randomUUID(), name: org, created_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const { id: orgId } = await trx
        .selectFrom('orgs')
        .select('id')
        .where('name', '=', org)
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('projects')
        .values({ id: randomUUID(), org_id: orgId, name: project, created_at: now })
        .onConflict((oc) => oc.columns(['org_id', 'name']).doNothing())
        .execute();
      const { id: projectId } = await trx
        .selectFrom('projects')
        .select('id')
        .where('org_id', '=', orgId)
        .where('name', '=', project)
        .executeTakeFirstOrThrow();
      return { orgId, projectId };
    });
  }

  /**
   * Creates a cluster and its first bootstrap token. `project` names an existing project (see
   * ensureOrgAndProject) of `org`, which defaults to DEFAULT_ORG. Cluster names are DNS-1123 labels, unique
   * across the whole controller (not just the project), since agents and kubectl address clusters by name.
   */
  async createCluster(input: {
    project: string;
    name: string;
    org?: string;
  }): Promise<{ cluster: ClusterView; bootstrapToken: BootstrapToken }> {
    checkName('cluster', input.name);
    const org = input.org ?? DEFAULT_ORG;
    const now = this.#clock();
    const bootstrapToken = await this.#db.transaction().execute(async (trx) => {
      const project = await trx
        .selectFrom('projects')
        .innerJoin('orgs', 'orgs.id', 'projects.org_id')
        .select('projects.id as id')
        .where('orgs.name', '=', org)
        .where('projects.name', '=', input.project)
        .executeTakeFirst();
      if (!project) {
        throw new RegistryError(
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
      if (!inserted)
        throw new RegistryError('conflict', `cluster ${JSON.stringify(input.name)} already exists`);
      return this.#insertBootstrapToken(trx, clusterId, now);
    });
    const cluster = await this.getCluster(input.name);
    if (!cluster) throw new Error(`cluster ${input.name} vanished right after being created`);
    return { cluster, bootstrapToken };
  }

  /**
   * Issues a fresh bootstrap token for an existing cluster, e.g. to reinstall its agent. Any earlier token
   * not yet used is revoked (its expiry is moved to now), so at most one bootstrap token per cluster is ever
   * live and handing out a new one withdraws a copy that may have leaked.
   */
  async newBootstrapToken(clusterName: string): Promise<BootstrapToken> {
    const now = this.#clock();
    return this.#db.transaction().execute(async (trx) => {
      const cluster = await clusterIdOf(trx, clusterName);
      await trx
        .updateTable('bootstrap_tokens')
        .set({ expires_at: now })
        .where('cluster_id', '=', cluster.id)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .execute();
      return this.#insertBootstrapToken(trx, cluster.id, now);
    });
  }

  /**
   * Exchanges a bootstrap token, presented by the agent together with its cluster's identity (kube-system
   * namespace UID), for an agent credential.
   *
   * - The token is consumed by a conditional update (`used_at IS NULL AND expires_at > now`) that is the first
   *   statement of the transaction, so of any number of concurrent or replayed exchanges exactly one succeeds,
   *   on SQLite as on PostgreSQL.
   * - Unknown, malformed, wrong, expired and used tokens all fail with the same 'invalid_token' error.
   * - The first exchange binds the identity to the cluster. If the cluster is already bound to a different
   *   identity, the exchange fails with 'identity_mismatch' and the token stays consumed: a token presented
   *   from the wrong cluster is treated as leaked, and the operator must issue a new one.
   * - A successful exchange revokes the cluster's previous agent credentials: re-bootstrapping an agent
   *   rotates its credential (and its key).
   * - `publicKey` is the agent's own Ed25519 public key (SPKI DER, base64url); the new credential is bound
   *   to it. Without one nothing is exchanged: no credential is ever issued that works without a key.
   */
  async exchangeBootstrapToken(
    token: string,
    identity: string,
    publicKey: string,
  ): Promise<{ clusterName: string; agentCredential: string }> {
    const parsed = parseToken(token, BOOTSTRAP_TOKEN_PREFIX);
    if (!parsed) throw invalidToken();
    if (typeof identity !== 'string' || !IDENTITY.test(identity)) {
      throw new RegistryError(
        'invalid_argument',
        'the cluster identity must be the UID of its kube-system namespace (1 to 128 letters, digits or -)',
      );
    }
    if (!parseAgentPublicKey(publicKey)) {
      throw new RegistryError(
        'invalid_argument',
        "the agent's public key must be an Ed25519 key (SPKI DER in base64url); an agent that sends none " +
          'is older than this controller: upgrade it',
      );
    }
    const row = await this.#db
      .selectFrom('bootstrap_tokens')
      .select(['id', 'cluster_id', 'token_hash'])
      .where('id', '=', parsed.id)
      .executeTakeFirst();
    const secretMatches = verifySecret(parsed.secret, row?.token_hash ?? DUMMY_HASH);
    if (!row || !secretMatches) throw invalidToken();

    const credential = newSecret(AGENT_CREDENTIAL_PREFIX);
    const now = this.#clock();
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('bootstrap_tokens')
        .set({ used_at: now })
        .where('id', '=', row.id)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (claimed.numUpdatedRows !== 1n) return { ok: false, code: 'invalid_token' } as const;

      const bound = await trx
        .updateTable('clusters')
        .set({ identity })
        .where('id', '=', row.cluster_id)
        .where((eb) => eb.or([eb('identity', 'is', null), eb('identity', '=', identity)]))
        .executeTakeFirst();
      // Returning (not throwing) commits the consumed token.
      if (bound.numUpdatedRows !== 1n) return { ok: false, code: 'identity_mismatch' } as const;

      await trx
        .updateTable('agent_credentials')
        .set({ revoked_at: now })
        .where('cluster_id', '=', row.cluster_id)
        .where('revoked_at', 'is', null)
        .execute();
      await trx
        .insertInto('agent_credentials')
        .values({
          id: credential.id,
          cluster_id: row.cluster_id,
          secret_hash: hashSecret(credential.secret),
          created_at: now,
          revoked_at: null,
          public_key: publicKey,
        })
        .execute();
      const cluster = await trx
        .selectFrom('clusters')
        .select('name')
        .where('id', '=', row.cluster_id)
        .executeTakeFirstOrThrow();
      return { ok: true, clusterName: cluster.name } as const;
    });
    if (!outcome.ok) {
      if (outcome.code === 'invalid_token') throw invalidToken();
      throw new RegistryError(
        'identity_mismatch',
        'this cluster is registered to a different Kubernetes cluster (kube-system namespace UID differs); ' +
          'the bootstrap token has been consumed',
      );
    }
    return { clusterName: outcome.clusterName, agentCredential: credential.token };
  }

  /**
   * The cluster an agent credential belongs to, or undefined if it is malformed, unknown or revoked. The
   * credential alone admits nobody: the caller must also check the proof of its key (`publicKey`).
   */
  async authenticateAgent(credential: string): Promise<AuthenticatedAgent | undefined> {
    const parsed = parseToken(credential, AGENT_CREDENTIAL_PREFIX);
    if (!parsed) return undefined;
    const row = await this.#db
      .selectFrom('agent_credentials')
      .innerJoin('clusters', 'clusters.id', 'agent_credentials.cluster_id')
      .select([
        'agent_credentials.secret_hash as secretHash',
        'agent_credentials.revoked_at as revokedAt',
        'agent_credentials.public_key as publicKey',
        'clusters.id as clusterId',
        'clusters.name as clusterName',
        'clusters.identity as identity',
      ])
      .where('agent_credentials.id', '=', parsed.id)
      .executeTakeFirst();
    const secretMatches = verifySecret(parsed.secret, row?.secretHash ?? DUMMY_HASH);
    if (!row || !secretMatches || row.revokedAt !== null || row.identity === null) return undefined;
    return {
      clusterId: row.clusterId,
      clusterName: row.clusterName,
      identity: row.identity,
      credentialId: parsed.id,
      publicKey: row.publicKey,
    };
  }

  /**
   * Records that a key proof of this credential with this nonce was accepted, and is kept until `expiresAt`
   * (when the proof is too old to pass anyway); false if it was recorded before, i.e. the proof is replayed.
   * One conditional insert decides, so of concurrent uses on any number of replicas exactly one is first.
   */
  async consumeAgentProof(credentialId: string, nonce: string, expiresAt: number): Promise<boolean> {
    const now = this.#clock();
    return this.#db.transaction().execute(async (trx) => {
      // Connects are rare, so the table is pruned as it is used and stays as small as the window allows.
      await trx.deleteFrom('agent_proof_nonces').where('expires_at', '<', now).execute();
      const inserted = await trx
        .insertInto('agent_proof_nonces')
        .values({ credential_id: credentialId, nonce, expires_at: expiresAt })
        .onConflict((oc) => oc.columns(['credential_id', 'nonce']).doNothing())
        .returning('nonce')
        .executeTakeFirst();
      return inserted !== undefined;
    });
  }

  /** Revokes every live agent credential of a cluster; returns how many were revoked. */
  async revokeAgentCredentials(clusterName: string): Promise<number> {
    const now = this.#clock();
    return this.#db.transaction().execute(async (trx) => {
      const cluster = await clusterIdOf(trx, clusterName);
      const result = await trx
        .updateTable('agent_credentials')
        .set({ revoked_at: now })
        .where('cluster_id', '=', cluster.id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
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
    await this.#updateCluster(clusterName, {
      agent_version: normaliseVersion(info.agentVersion),
      kube_version: normaliseVersion(info.kubeVersion),
      ...(info.jitNamespace ? { jit_namespace: info.jitNamespace } : {}),
      last_seen_at: this.#clock(),
    });
  }

  /** Records a sign of life from the cluster's agent (e.g. a heartbeat). */
  async markSeen(clusterName: string): Promise<void> {
    await this.#updateCluster(clusterName, { last_seen_at: this.#clock() });
  }

  /** Deletes a cluster with its tokens and agent credentials (foreign keys cascade); false if unknown. */
  async deleteCluster(clusterName: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('clusters').where('name', '=', clusterName).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async getCluster(name: string): Promise<ClusterView | undefined> {
    const row = await this.#views().where('clusters.name', '=', name).executeTakeFirst();
    return row && toView(row);
  }

  /**
   * All clusters, ordered by name; or only those in projects named `project` (in any org, unless `org` is
   * given too).
   */
  async listClusters(
    project?: string,
    org?: string,
    projectIds?: ReadonlySet<string>,
  ): Promise<ClusterView[]> {
    if (projectIds !== undefined && projectIds.size === 0) return [];
    let query = this.#views();
    if (project !== undefined) query = query.where('projects.name', '=', project);
    if (org !== undefined) query = query.where('orgs.name', '=', org);
    if (projectIds !== undefined) query = query.where('projects.id', 'in', [...projectIds]);
    const rows = await query.orderBy('clusters.name').execute();
    return rows.map(toView);
  }

  #views() {
    return this.#db
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

  async #updateCluster(
    clusterName: string,
    values: {
      connected?: 0 | 1;
      agent_version?: string | null;
      kube_version?: string | null;
      jit_namespace?: string;
      last_seen_at: number;
    },
  ): Promise<void> {
    await this.#db.updateTable('clusters').set(values).where('name', '=', clusterName).execute();
  }

  async #insertBootstrapToken(db: Kysely<Database>, clusterId: string, now: number): Promise<BootstrapToken> {
    const token = newSecret(BOOTSTRAP_TOKEN_PREFIX);
    const expiresAt = now + this.#tokenTtlMs;
    await db
      .insertInto('bootstrap_tokens')
      .values({
        id: token.id,
        cluster_id: clusterId,
        token_hash: hashSecret(token.secret),
        expires_at: expiresAt,
        used_at: null,
        created_at: now,
      })
      .execute();
    return { token: token.token, expiresAt: iso(expiresAt) };
  }
}

function notFound(clusterName: string): RegistryError {
  return new RegistryError('not_found', `cluster ${JSON.stringify(clusterName)} not found`);
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
