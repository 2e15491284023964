// The hash chain: each record's hash covers the previous record's hash, its own position and its body, so
// changing, removing or reordering any record breaks every link after it.
import { createHash } from 'node:crypto';

/** The `prev_hash` of an org's first record. */
export const GENESIS = '0'.repeat(64);

export function linkHash(prevHash: string, seq: number, body: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n`).update(body).digest('hex');
}
