// Opens the controller's SQLite store. Pragmas are the only hand-written SQL in the store: everything else goes
// through Kysely so that a PostgreSQL dialect can run the same queries.
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
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
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}
