// Several controllers may write one PostgreSQL: an org's chain is extended, or pruned, by one transaction at
// a time, under a transaction-scoped advisory lock. An advisory lock needs no row to exist (an org's first
// record has no head to lock), touches no table other work updates, and is released by the commit or
// rollback that ends its transaction, also when the connection is lost.
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

export type ChainLock = 'append' | 'prune';

/**
 * The lock's 64-bit key, the same in every process: derived from the org and what the lock is for, so that
 * pruning does not hold up appends. Two orgs whose keys collide only wait for each other.
 */
export function chainLockKey(lock: ChainLock, orgId: string): bigint {
  return createHash('sha256').update(`ztka audit ${lock}\n${orgId}`).digest().readBigInt64BE(0);
}

/** Waits for, then holds until `trx` ends, the org's lock (PostgreSQL only). */
export async function lockChain(trx: Kysely<Database>, lock: ChainLock, orgId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${chainLockKey(lock, orgId).toString()}::bigint)`.execute(trx);
}
