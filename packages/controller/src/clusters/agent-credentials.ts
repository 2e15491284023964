// Agent credentials: the long-lived secret an agent authenticates with once registered (bootstrap-tokens.ts).
// The agent also sends the public half of a key pair it made for its registration. It is stored with the
// credential, and on every connect the agent proves it holds the private half (@ztka/protocol's
// agent-proof.ts; each proof's nonce is accepted once, consumeAgentProof), so the credential alone is
// worthless to whoever copies it.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import { hashSecret, newSecret, parseToken, verifySecret } from '../store/secrets.js';

export const AGENT_CREDENTIAL_PREFIX = 'ztka';

/** Compared against when an id is unknown, so that the time taken does not reveal whether the id exists. */
export const DUMMY_HASH = hashSecret('ztka-dummy-secret');

export interface AuthenticatedAgent {
  clusterId: string;
  clusterName: string;
  identity: string;
  /** The credential's lookup id: what the agent's key proof names, and what its nonces are kept under. */
  credentialId: string;
  /** The agent's registered public key (SPKI DER, base64url); null for a credential issued without one. */
  publicKey: string | null;
}

/**
 * Revokes the cluster's live credentials and issues a new one bound to `publicKey`, inside the caller's
 * transaction (the bootstrap exchange); returns the credential to hand the agent.
 */
export async function issueAgentCredential(
  trx: Transaction<Database>,
  clusterId: string,
  publicKey: string,
  now: number,
): Promise<string> {
  const credential = newSecret(AGENT_CREDENTIAL_PREFIX);
  await trx
    .updateTable('agent_credentials')
    .set({ revoked_at: now })
    .where('cluster_id', '=', clusterId)
    .where('revoked_at', 'is', null)
    .execute();
  await trx
    .insertInto('agent_credentials')
    .values({
      id: credential.id,
      cluster_id: clusterId,
      secret_hash: hashSecret(credential.secret),
      created_at: now,
      revoked_at: null,
      public_key: publicKey,
    })
    .execute();
  return credential.token;
}

export class AgentCredentials {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The cluster an agent credential belongs to, or undefined if it is malformed, unknown or revoked. The
   * credential alone admits nobody: the caller must also check the proof of its key (`publicKey`).
   */
  async authenticateAgent(credential: string): Promise<AuthenticatedAgent | undefined> {
    const parsed = parseToken(credential, AGENT_CREDENTIAL_PREFIX);
    if (!parsed) return undefined;
    const row = await this.db
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
    const now = this.clock();
    return this.db.transaction().execute(async (trx) => {
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
}
