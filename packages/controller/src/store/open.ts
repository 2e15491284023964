// The one place that decides which database the controller's store lives in: a `postgres://` or
// `postgresql://` URL means PostgreSQL, anything else that is not a URL is a SQLite file (or ':memory:').
import { PostgresAdapter, type Kysely } from 'kysely';
import { openSqlite } from './db.js';
import { openPostgres } from './postgres.js';
import type { Database } from './schema.js';

export type StoreDialect = 'sqlite' | 'postgres';

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;
// Any other `scheme://`: refused rather than taken for a file name (e.g. a mistyped `postgress://` or `mysql://`).
const OTHER_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Which dialect `target` selects; throws for an empty target or a URL of an unsupported scheme. */
export function storeDialect(target: string): StoreDialect {
  if (target === '')
    throw new Error('the store target is empty: give a SQLite file path or a postgres:// URL');
  if (POSTGRES_URL.test(target)) return 'postgres';
  const scheme = OTHER_URL.exec(target);
  if (scheme) {
    // Only the scheme is shown: the rest of a URL may hold a password.
    throw new Error(
      `unsupported store URL scheme ${JSON.stringify(scheme[0])}: use postgres:// or postgresql:// for ` +
        'PostgreSQL, or a file path (or :memory:) for SQLite',
    );
  }
  return 'sqlite';
}

/**
 * Opens the store at `target`: PostgreSQL for a `postgres://` or `postgresql://` URL, otherwise the SQLite
 * database at that file path (':memory:' for a private in-memory one). The caller owns the returned instance
 * (`await db.destroy()`), and runs `migrateToLatest(db)` before use.
 */
export function openStore(target: string): Kysely<Database> {
  return storeDialect(target) === 'postgres' ? openPostgres(target) : openSqlite(target);
}

/** Which dialect an open store speaks: for the few places where PostgreSQL needs what SQLite does not. */
export function dialectOf(db: Kysely<Database>): StoreDialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
