import { migrateToLatest } from '../store/migrations.js';
import { openSqlite } from '../store/db.js';
import { orgStoreContract } from './store-contract.js';

orgStoreContract('SQLite', async () => {
  const db = openSqlite(':memory:');
  await migrateToLatest(db);
  return { db, close: () => db.destroy() };
});
