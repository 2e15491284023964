// Opens the controller's store on PostgreSQL. The queries are the same Kysely code that runs on SQLite; what
// differs is only how values come back from the driver, handled here by a type parser (see schema.ts).
import { Kysely, PostgresDialect } from 'kysely';
import { Pool, types, type CustomTypesConfig } from 'pg';
import type { Database } from './schema.js';

export interface PostgresOptions {
  /** The most connections the pool opens at once; 10 by default (pg's default). */
  max?: number;
  /**
   * Called when an idle pooled connection fails (e.g. the server restarted). The pool drops that connection
   * and the next query opens a new one; without a handler such an error would be an uncaught 'error' event
   * that ends the process. Ignored by default.
   */
  onIdleError?: (err: Error) => void;
}

export const DEFAULT_POOL_MAX = 10;

/** PostgreSQL's OID of int8 (`bigint`): timestamps, and what count() returns. */
const INT8_OID = 20;

/**
 * int8 as a JS number instead of pg's default string. Exact for every epoch-ms timestamp and any count; a
 * value beyond Number.MAX_SAFE_INTEGER fails the query rather than coming back rounded.
 */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    throw new RangeError(`int8 value ${value} is outside JavaScript's safe integer range`);
  }
  return n;
}

/**
 * The pool's own type parsers: int8 in text format (what pg asks for unless told `binary`) becomes a number,
 * every other type keeps pg's default. Given to the pool's clients through the `types` option, so pg's global
 * parser table, which other code in the same process may rely on, is left alone.
 */
const STORE_TYPES: CustomTypesConfig = {
  getTypeParser: (oid, format) =>
    oid === INT8_OID && (format ?? 'text') === 'text' ? parseInt8 : types.getTypeParser(oid, format),
};

/**
 * Connects to the PostgreSQL database at `url` (`postgres://user:password@host:port/db?...`, anything pg's
 * connection strings accept). Connections are opened lazily, on the first query. The caller owns the returned
 * instance; `await db.destroy()` closes the pool. Run `migrateToLatest(db)` before use.
 */
export function openPostgres(url: string, options: PostgresOptions = {}): Kysely<Database> {
  const max = options.max ?? DEFAULT_POOL_MAX;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError(`max must be a positive integer, got ${String(max)}`);
  }
  const pool = new Pool({ connectionString: url, max, types: STORE_TYPES });
  const onIdleError = options.onIdleError;
  pool.on('error', (err) => onIdleError?.(err));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
