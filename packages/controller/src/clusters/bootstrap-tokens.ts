// Bootstrap tokens: how an agent registers its cluster.
//
//   1. An operator creates a cluster record and receives a bootstrap token (single use, expires, 24h default).
//   2. The agent, running in that cluster, presents the token together with the cluster's identity (the UID of
//      its kube-system namespace). The exchange consumes the token, binds the identity to the cluster record
//      on first use, and returns a fresh agent credential (agent-credentials.ts).
//   3. From then on the agent authenticates with its credential; the identity stays bound, so a later
//      bootstrap token for the same cluster only works from the same Kubernetes cluster.
//
// All times come from the injected clock and are stored as epoch milliseconds (see store/schema.ts).
import type { Kysely, Transaction } from 'kysely';
import { ZtkaError, parseAgentPublicKey } from '@ztka/protocol';
import type { Database } from '../store/schema.js';
import { hashSecret, newSecret, parseToken, verifySecret } from '../store/secrets.js';
import { DUMMY_HASH, issueAgentCredential } from './agent-credentials.js';
import { clusterIdOf } from './clusters.js';

export const BOOTSTRAP_TOKEN_PREFIX = 'ztkb';
export const DEFAULT_BOOTSTRAP_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

// A kube-system namespace UID is a UUID; accept any short token of UUID characters without being stricter.
const IDENTITY = /^[A-Za-z0-9-]{1,128}$/;

export interface BootstrapToken {
  /** The token to give the agent (`ztkb_<id>.<secret>`); it is not stored and cannot be shown again. */
  token: string;
  expiresAt: string;
}

export interface BootstrapTokenOptions {
  /** Lifetime of bootstrap tokens; 24 hours by default. */
  ttlMs?: number;
  /** Milliseconds since the epoch; Date.now by default. */
  clock?: () => number;
}

// One message for every rejected token, so that a caller cannot tell unknown, wrong, used and expired apart.
const invalidToken = (): ZtkaError =>
  new ZtkaError('unauthorized', 'the bootstrap token is invalid, expired or already used');

export class BootstrapTokens {
  readonly #db: Kysely<Database>;
  readonly #clock: () => number;
  readonly #ttlMs: number;

  constructor(db: Kysely<Database>, options: BootstrapTokenOptions = {}) {
    const ttl = options.ttlMs ?? DEFAULT_BOOTSTRAP_TOKEN_TTL_MS;
    if (!Number.isSafeInteger(ttl) || ttl <= 0) {
      throw new RangeError(`the bootstrap token lifetime must be a positive integer, got ${String(ttl)}`);
    }
    this.#db = db;
    this.#clock = options.clock ?? Date.now;
    this.#ttlMs = ttl;
  }

  /**
   * Issues a fresh bootstrap token for an existing cluster, e.g. to reinstall its agent. Any earlier token
   * not yet used is revoked (its expiry is moved to now), so at most one bootstrap token per cluster is ever
   * live and handing out a new one withdraws a copy that may have leaked.
   */
  async issue(clusterName: string): Promise<BootstrapToken> {
    const now = this.#clock();
    return this.#db.transaction().execute(async (trx) => {
      const clusterId = await clusterIdOf(trx, clusterName);
      await trx
        .updateTable('bootstrap_tokens')
        .set({ expires_at: now })
        .where('cluster_id', '=', clusterId)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .execute();
      return this.insert(trx, clusterId);
    });
  }

  /** Stores a new token for the cluster, inside the caller's transaction (which creates the cluster). */
  async insert(trx: Transaction<Database>, clusterId: string): Promise<BootstrapToken> {
    const now = this.#clock();
    const token = newSecret(BOOTSTRAP_TOKEN_PREFIX);
    const expiresAt = now + this.#ttlMs;
    await trx
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
    return { token: token.token, expiresAt: new Date(expiresAt).toISOString() };
  }

  /**
   * Exchanges a bootstrap token, presented by the agent together with its cluster's identity (kube-system
   * namespace UID), for an agent credential.
   *
   * - The token is consumed by a conditional update (`used_at IS NULL AND expires_at > now`) that is the first
   *   statement of the transaction, so of any number of concurrent or replayed exchanges exactly one succeeds,
   *   on SQLite as on PostgreSQL.
   * - Unknown, malformed, wrong, expired and used tokens all fail with the same `unauthorized` error.
   * - The first exchange binds the identity to the cluster. If the cluster is already bound to a different
   *   identity, the exchange fails with `forbidden` and the token stays consumed: a token presented from the
   *   wrong cluster is treated as leaked, and the operator must issue a new one.
   * - A successful exchange revokes the cluster's previous agent credentials: re-bootstrapping an agent
   *   rotates its credential (and its key).
   * - `publicKey` is the agent's own Ed25519 public key (SPKI DER, base64url); the new credential is bound
   *   to it. Without one nothing is exchanged: no credential is ever issued that works without a key.
   */
  async exchange(
    token: string,
    identity: string,
    publicKey: string,
  ): Promise<{ clusterName: string; agentCredential: string }> {
    const parsed = parseToken(token, BOOTSTRAP_TOKEN_PREFIX);
    if (!parsed) throw invalidToken();
    if (typeof identity !== 'string' || !IDENTITY.test(identity)) {
      throw new ZtkaError(
        'bad_request',
        'the cluster identity must be the UID of its kube-system namespace (1 to 128 letters, digits or -)',
      );
    }
    if (!parseAgentPublicKey(publicKey)) {
      throw new ZtkaError(
        'bad_request',
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

    const now = this.#clock();
    const outcome = await this.#db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('bootstrap_tokens')
        .set({ used_at: now })
        .where('id', '=', row.id)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (claimed.numUpdatedRows !== 1n) return { ok: false, refusal: invalidToken() } as const;

      const bound = await trx
        .updateTable('clusters')
        .set({ identity })
        .where('id', '=', row.cluster_id)
        .where((eb) => eb.or([eb('identity', 'is', null), eb('identity', '=', identity)]))
        .executeTakeFirst();
      // Returning (not throwing) commits the consumed token.
      if (bound.numUpdatedRows !== 1n) {
        return {
          ok: false,
          refusal: new ZtkaError('forbidden', 'this token belongs to another cluster', {
            cause:
              'the cluster is registered to a different Kubernetes cluster (kube-system namespace UID ' +
              'differs); the bootstrap token has been consumed',
          }),
        } as const;
      }
      const agentCredential = await issueAgentCredential(trx, row.cluster_id, publicKey, now);
      const cluster = await trx
        .selectFrom('clusters')
        .select('name')
        .where('id', '=', row.cluster_id)
        .executeTakeFirstOrThrow();
      return { ok: true, clusterName: cluster.name, agentCredential } as const;
    });
    if (!outcome.ok) throw outcome.refusal;
    return { clusterName: outcome.clusterName, agentCredential: outcome.agentCredential };
  }
}
