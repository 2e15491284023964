// Appends records to the chain with group commit: every append waits for the transaction that holds it, but
// appends that arrive while one transaction runs go together into the next, so the rate is bounded by
// transactions per second times the batch size, not by one fsync per record. A caller that awaits
// append() knows its record is committed: the proxy awaits it before ending a response.
//
// On SQLite this process is the only writer, and each org's head is read once and then kept. On PostgreSQL
// several controllers may append to the same chain: each batch's transaction takes the lock of every org it
// extends (chain-lock.ts) and reads those heads under it, so writers take turns per batch, not per record.
import { CompiledQuery, type Insertable, type Kysely } from 'kysely';
import { dialectOf } from '../store/open.js';
import type { AuditRecordsTable, Database } from '../store/schema.js';
import { GENESIS, linkHash } from './chain.js';
import { lockChain } from './chain-lock.js';
import { canonicalJson, columnsOf, type AuditRecord } from './record.js';

interface Committed {
  orgId: string;
  record: AuditRecord;
  seq: number;
  hash: string;
}

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

type Head = { seq: number; hash: string };
type Row = Insertable<AuditRecordsTable>;

/** The last record of an org's chain; before its first, where pruning left it, or the genesis. */
async function readHead(db: Kysely<Database>, orgId: string): Promise<Head> {
  const last = await db
    .selectFrom('audit_records')
    .select(['seq', 'hash'])
    .where('org_id', '=', orgId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (last) return { seq: Number(last.seq), hash: last.hash };
  const checkpoint = await db
    .selectFrom('audit_checkpoints')
    .selectAll()
    .where('org_id', '=', orgId)
    .executeTakeFirst();
  return checkpoint
    ? { seq: Number(checkpoint.seq) - 1, hash: checkpoint.prev_hash }
    : { seq: 0, hash: GENESIS };
}

/** Every column of an audit row: the compiler says so if one is added to the table and not here. */
const COLUMNS = Object.keys({
  org_id: true,
  seq: true,
  id: true,
  kind: true,
  at: true,
  stage: true,
  username: true,
  project: true,
  cluster: true,
  namespace: true,
  resource: true,
  verb: true,
  status: true,
  channel: true,
  session_id: true,
  kubectl_session: true,
  summary: true,
  body: true,
  prev_hash: true,
  hash: true,
} satisfies Record<keyof AuditRecordsTable, true>) as Array<keyof AuditRecordsTable>;

/** An INSERT of a given number of rows: its SQL, and which row's column each parameter is. */
interface InsertStatement {
  sql: string;
  slots: Array<[row: number, column: keyof AuditRecordsTable]>;
}

/**
 * The INSERT of `size` rows, compiled by the store's own dialect from rows whose every value names its
 * slot, so the parameters of any batch can be laid out without building and compiling the query again.
 */
export function compileInsert(db: Kysely<Database>, size: number): InsertStatement {
  const marker = (row: number, column: string) => `\u0000${row}\u0000${column}`;
  const template = Array.from(
    { length: size },
    (_, row) => Object.fromEntries(COLUMNS.map((c) => [c, marker(row, c)])) as unknown as Row,
  );
  const compiled = db.insertInto('audit_records').values(template).compile();
  const slots = compiled.parameters.map((p) => {
    const [, row, column] = typeof p === 'string' ? p.split('\u0000') : [];
    if (row === undefined || !COLUMNS.includes(column as keyof AuditRecordsTable))
      throw new Error('the audit INSERT has a parameter that is no row value');
    return [Number(row), column as keyof AuditRecordsTable] as [number, keyof AuditRecordsTable];
  });
  return { sql: compiled.sql, slots };
}

/**
 * Writes rows with INSERTs compiled once per size. Building and compiling the query through Kysely cost
 * more than SQLite's own work for a one-row append (about 110 of 180 µs), and that append stands between
 * every answer and its end.
 */
class Inserts {
  readonly #compiled = new Map<number, InsertStatement>();

  constructor(private readonly db: Kysely<Database>) {}

  /** `on` is the store or a transaction of it. */
  async write(on: Kysely<Database>, rows: Row[]): Promise<void> {
    let at = 0;
    for (const size of insertChunks(rows.length)) {
      let statement = this.#compiled.get(size);
      if (!statement) {
        statement = compileInsert(this.db, size);
        this.#compiled.set(size, statement);
      }
      const chunk = rows.slice(at, at + size);
      const parameters = statement.slots.map(([row, column]) => chunk[row]?.[column] ?? null);
      await on.executeQuery(CompiledQuery.raw(statement.sql, parameters));
      at += size;
    }
  }
}

export class AuditLog {
  #queue: Pending[] = [];
  #flushing = false;
  #scheduled = false;
  /** The last seq and hash of each org's chain, read once and then kept (one writer only). */
  readonly #heads = new Map<string, Head>();
  /** Whether other processes may append to the same chains (PostgreSQL). */
  readonly #shared: boolean;
  readonly #listeners: AuditListener[] = [];
  readonly #batchListeners: Array<(records: number) => void> = [];
  readonly #inserts: Inserts;

  constructor(private readonly db: Kysely<Database>) {
    this.#shared = dialectOf(db) === 'postgres';
    this.#inserts = new Inserts(db);
  }

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

  async #head(orgId: string): Promise<Head> {
    const known = this.#heads.get(orgId);
    if (known) return known;
    const head = await readHead(this.db, orgId);
    this.#heads.set(orgId, head);
    return head;
  }

  /** Links the batch's records onto `heads`, which it moves along. */
  #link(batch: Pending[], heads: Map<string, Head>): { rows: Row[]; committed: Committed[] } {
    const committed: Committed[] = [];
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
    return { rows, committed };
  }

  /** One writer (SQLite): the heads come from memory, and a batch of one needs no transaction. */
  async #writeAlone(batch: Pending[]): Promise<Committed[]> {
    const heads = new Map<string, Head>();
    for (const p of batch) if (!heads.has(p.orgId)) heads.set(p.orgId, { ...(await this.#head(p.orgId)) });
    const { rows, committed } = this.#link(batch, heads);
    if (insertChunks(rows.length).length === 1) {
      // One statement is atomic on its own: no BEGIN and COMMIT round trips for the common case of a
      // quiet moment, where the record is all that stands between a response and its end.
      await this.#inserts.write(this.db, rows);
    } else {
      await this.db.transaction().execute((trx) => this.#inserts.write(trx, rows));
    }
    for (const [orgId, head] of heads) this.#heads.set(orgId, head);
    return committed;
  }

  /** Several writers (PostgreSQL): the heads are read under the orgs' locks, in the batch's transaction. */
  async #writeShared(batch: Pending[]): Promise<Committed[]> {
    // Read committed, whatever the server's default: each statement after the lock then sees the commit of
    // the transaction that held it before. A snapshot taken at the first statement would not.
    return this.db
      .transaction()
      .setIsolationLevel('read committed')
      .execute(async (trx) => {
        const heads = new Map<string, Head>();
        // In one order in every process, so two batches that share orgs cannot each hold one the other needs.
        for (const orgId of [...new Set(batch.map((p) => p.orgId))].sort()) {
          await lockChain(trx, 'append', orgId);
          // A statement of its own: one that took the lock would see only what was committed before it began.
          heads.set(orgId, await readHead(trx, orgId));
        }
        const { rows, committed } = this.#link(batch, heads);
        await this.#inserts.write(trx, rows);
        return committed;
      });
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH);
        try {
          const committed = this.#shared ? await this.#writeShared(batch) : await this.#writeAlone(batch);
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
