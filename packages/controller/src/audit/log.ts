// Appends records to the chain with group commit: every append waits for the transaction that holds it, but
// appends that arrive while one transaction runs go together into the next, so the rate is bounded by
// transactions per second times the batch size, not by one fsync per record. A caller that awaits
// append() knows its record is committed: the proxy awaits it before ending a response.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { GENESIS, linkHash } from './chain.js';
import { canonicalJson, columnsOf, type AuditRecord } from './record.js';

interface Pending {
  orgId: string;
  record: AuditRecord;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Rows per INSERT statement. A batch is cut into statements of these sizes only (greedily, largest first), so
 * the store sees a handful of distinct statements it can keep prepared instead of one per batch size.
 * 21 columns × 1,024 stays under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
 */
const INSERT_SIZES = [1024, 256, 64, 16, 4, 1] as const;

/** Splits `n` rows into INSERT_SIZES, largest first: 37 → [16, 16, 4, 1]. */
export function insertChunks(n: number): number[] {
  const chunks: number[] = [];
  for (const size of INSERT_SIZES) for (; n >= size; n -= size) chunks.push(size);
  return chunks;
}
/** The most records one transaction takes; the rest wait for the next. */
const MAX_BATCH = 5000;

export type AuditListener = (orgId: string, record: AuditRecord, seq: number, hash: string) => void;

export class AuditLog {
  #queue: Pending[] = [];
  #flushing = false;
  #scheduled = false;
  /** The last seq and hash of each org's chain, read once and then kept. */
  readonly #heads = new Map<string, { seq: number; hash: string }>();
  readonly #listeners: AuditListener[] = [];
  readonly #batchListeners: Array<(records: number) => void> = [];

  constructor(private readonly db: Kysely<Database>) {}

  append(orgId: string, record: AuditRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ orgId, record, resolve, reject });
      // Flushed once the event loop has run every I/O callback that is ready, not at once: SQLite's calls
      // are synchronous, so a flush started here would finish before the next callback could append, and
      // every request would pay for a transaction of its own.
      if (!this.#flushing && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          void this.#flush();
        });
      }
    });
  }

  /** Called after each committed record (sinks, metrics). */
  onCommit(listener: AuditListener): void {
    this.#listeners.push(listener);
  }

  /** Called after each committed transaction with the number of records it held. */
  onBatch(listener: (records: number) => void): void {
    this.#batchListeners.push(listener);
  }

  /** Resolves once everything appended so far is committed. */
  async drain(): Promise<void> {
    while (this.#flushing || this.#scheduled || this.#queue.length > 0)
      await new Promise((r) => setTimeout(r, 5));
  }

  async #head(orgId: string): Promise<{ seq: number; hash: string }> {
    const known = this.#heads.get(orgId);
    if (known) return known;
    const last = await this.db
      .selectFrom('audit_records')
      .select(['seq', 'hash'])
      .where('org_id', '=', orgId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const checkpoint = last
      ? undefined
      : await this.db
          .selectFrom('audit_checkpoints')
          .selectAll()
          .where('org_id', '=', orgId)
          .executeTakeFirst();
    const head = last
      ? { seq: Number(last.seq), hash: last.hash }
      : checkpoint
        ? { seq: Number(checkpoint.seq) - 1, hash: checkpoint.prev_hash }
        : { seq: 0, hash: GENESIS };
    this.#heads.set(orgId, head);
    return head;
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        const committed: { orgId: string; record: AuditRecord; seq: number; hash: string }[] = [];
        try {
          const heads = new Map<string, { seq: number; hash: string }>();
          for (const p of batch)
            if (!heads.has(p.orgId)) heads.set(p.orgId, { ...(await this.#head(p.orgId)) });
          const rows = batch.map((p) => {
            const head = heads.get(p.orgId) ?? { seq: 0, hash: GENESIS };
            const seq = head.seq + 1;
            const body = canonicalJson(p.record);
            const hash = linkHash(head.hash, seq, body);
            const row = { ...columnsOf(p.record), org_id: p.orgId, seq, body, prev_hash: head.hash, hash };
            head.seq = seq;
            head.hash = hash;
            committed.push({ orgId: p.orgId, record: p.record, seq, hash });
            return row;
          });
          const chunks = insertChunks(rows.length);
          if (chunks.length === 1) {
            // One statement is atomic on its own: no BEGIN and COMMIT round trips for the common case of a
            // quiet moment, where the record is all that stands between a response and its end.
            await this.db.insertInto('audit_records').values(rows).execute();
          } else {
            await this.db.transaction().execute(async (trx) => {
              let at = 0;
              for (const size of chunks) {
                await trx
                  .insertInto('audit_records')
                  .values(rows.slice(at, at + size))
                  .execute();
                at += size;
              }
            });
          }
          for (const [orgId, head] of heads) this.#heads.set(orgId, head);
          for (const l of this.#batchListeners) l(batch.length);
          for (const p of batch) p.resolve();
          for (const c of committed) for (const l of this.#listeners) l(c.orgId, c.record, c.seq, c.hash);
        } catch (err) {
          // The heads may be stale now (another writer, a failed commit): read them again next time.
          this.#heads.clear();
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}
