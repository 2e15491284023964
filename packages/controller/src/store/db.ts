// Opens the controller's SQLite store. Pragmas are the only hand-written SQL in the store: everything else goes
// through Kysely so that a PostgreSQL dialect can run the same queries.
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import type { Database } from './schema.js';

export interface SqliteOptions {
  /** How long a connection waits for another connection's write lock before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) the SQLite database at `file`, which may be ':memory:'. The caller owns the
 * returned instance; `await db.destroy()` closes the underlying database. Run `migrateToLatest(db)` before use.
 */
export function openSqlite(file: string, options: SqliteOptions = {}): Kysely<Database> {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${String(busyTimeoutMs)}`);
  }
  const sqlite = new BetterSqlite3(file);
  try {
    // WAL lets readers proceed while a writer commits. An in-memory database has no WAL and stays 'memory'.
    sqlite.pragma('journal_mode = WAL');
    // Durable across application crashes; with WAL only a power loss can drop the last transactions.
    sqlite.pragma('synchronous = NORMAL');
    // SQLite does not enforce foreign keys unless asked to, per connection.
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // 64 MiB of page cache (the default is 2 MiB): the audit trail's indexes stay in memory as it grows, so
    // appends do not wait on reading index pages back from disk.
    sqlite.pragma('cache_size = -65536');
    // Checkpoint the WAL every ~40 MB rather than every ~4 MB: fewer, larger copies into the database file
    // while the audit trail takes a burst.
    sqlite.pragma('wal_autocheckpoint = 10000');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
}

/** Distinct SQL texts kept prepared; the store issues a few dozen, so this only bounds a surprise. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares every query it runs. Preparing (parsing SQL and planning) costs more than running most of
 * the store's queries, and a multi-row audit INSERT costs the most of all, so each SQL text is prepared once
 * and its statement reused. A statement still being iterated (a streamed export) is busy; a query with the
 * same text meanwhile gets a fresh statement.
 */
export function withStatementCache(db: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => db.close(),
    prepare(sql) {
      const cached = cache.get(sql);
      if (cached && !cached.busy) {
        // Re-inserted so the map's order is least recently used first.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      const fresh = db.prepare(sql);
      if (cached) return fresh;
      cache.set(sql, fresh);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
      return fresh;
    },
  };
}
