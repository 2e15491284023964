import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import { auditIntegrityContract } from './integrity-contract.js';
import type { ContractStore } from '../store/contract.js';
import { auditStoreContract } from './store-contract.js';

async function sqliteFile(): Promise<ContractStore> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-audit-'));
  const db = openSqlite(path.join(dir, 'ztka.db'));
  await migrateToLatest(db);
  return {
    db,
    close: async () => {
      await db.destroy();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

auditStoreContract('SQLite', sqliteFile);
auditIntegrityContract('SQLite', sqliteFile);
