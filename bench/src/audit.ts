// P6: the audit trail's own limits, on the real store (SQLite in a file, as the controller runs it): how
// fast records are appended with group commit when many requests finish at once, and how long a filtered,
// newest-first page takes once the trail is large.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { AuditLog } from '@ztka/controller/audit/log';
import { AuditQuery } from '@ztka/controller/audit/query';
import type { ApiRecord } from '@ztka/controller/audit/record';
import { openSqlite } from '@ztka/controller/store/db';
import { migrateToLatest } from '@ztka/controller/store/migrations';
import { openPostgres } from '@ztka/controller/store/postgres';
import { startPostgres } from '@ztka/testenv';
import type { Row } from './cases.js';
import { percentile } from './stats.js';

const ORG = 'bench-org';

function record(i: number): ApiRecord {
  const cluster = `cluster-${i % 10}`;
  return {
    kind: 'api',
    id: randomUUID(),
    stage: 'ResponseComplete',
    at: Date.now(),
    endedAt: Date.now() + 2,
    user: `user-${i % 100}@example.com`,
    role: 'PROJECT_ADMIN',
    project: 'desktop',
    cluster,
    channel: 'cli',
    kubectlSession: `s-${Math.floor(i / 5)}`,
    kubectlCommand: 'kubectl get',
    method: 'GET',
    requestURI: `/k8s/clusters/${cluster}/api/v1/namespaces/ns-${i % 50}/pods?limit=500`,
    verb: 'list',
    objectRef: { apiVersion: 'v1', resource: 'pods', namespace: `ns-${i % 50}` },
    sourceIPs: ['127.0.0.1'],
    userAgent: 'kubectl/v1.33.0',
    status: i % 97 === 0 ? 403 : 200,
    bytes: 1234,
    durationMs: 2,
  };
}

export async function p6(records: number): Promise<Row[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-bench-audit-'));
  const db = openSqlite(path.join(dir, 'ztka.db'));
  try {
    await migrateToLatest(db);
    const log = new AuditLog(db);
    // Requests finish concurrently: keep a few thousand appends in flight, as a busy controller would.
    const inFlight = 4000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < records; i += inFlight) {
      const n = Math.min(inFlight, records - i);
      await Promise.all(Array.from({ length: n }, (_, j) => log.append(ORG, record(i + j))));
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const rate = records / seconds;

    const query = new AuditQuery(db);
    const time = async (filter: Parameters<AuditQuery['page']>[1]) => {
      const samples: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = process.hrtime.bigint();
        const page = await query.page(ORG, filter, 50);
        samples.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (page.items.length === 0) throw new Error(`P6: no records for ${JSON.stringify(filter)}`);
      }
      return percentile(samples, 50);
    };
    const filtered = await time({ kind: 'api', cluster: 'cluster-3', user: 'user-73@example.com' });
    const refused = await time({ kind: 'api', status: '4xx' });
    const newest = await time({ kind: 'api' });
    const label = `${records.toLocaleString('en')} records`;
    return [
      {
        case: 'P6 audit ingest',
        metric: 'records/s (group commit, 4,000 in flight)',
        unit: '/s',
        values: { ztka: rate },
        goal: '≥ 20,000/s',
        met: rate >= 20_000,
        note: label,
      },
      {
        case: 'P6 audit query',
        metric: 'p50 filtered page (cluster + user, 50 newest)',
        unit: 'ms',
        values: { ztka: filtered },
        goal: '≤ 50 ms over 10M',
        met: filtered <= 50,
        note: label,
      },
      {
        case: 'P6 audit query',
        metric: 'p50 page of 4xx, newest first',
        unit: 'ms',
        values: { ztka: refused },
        note: label,
      },
      {
        case: 'P6 audit query',
        metric: 'p50 newest page, unfiltered',
        unit: 'ms',
        values: { ztka: newest },
        note: label,
      },
    ];
  } finally {
    await db.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * P6 on PostgreSQL: the same ingest by one controller and by three sharing the database (each its own pool
 * and AuditLog, in this process), appending to one org's chain, so every batch waits for the org's lock.
 * The same records and the same appends in flight in both runs: what differs is only how many writers take
 * turns. Then one append at a time, a quiet moment's latency: the lock and the head's read are on its path.
 */
export async function p6Writers(records: number): Promise<Row[]> {
  const pg = await startPostgres();
  try {
    const setup = openPostgres(pg.url);
    await migrateToLatest(setup);
    await setup.destroy();
    const ingest = async (writers: number, org: string) => {
      const pools = Array.from({ length: writers }, () => openPostgres(pg.url));
      try {
        const logs = pools.map((db) => new AuditLog(db));
        const inFlight = 3000;
        const start = process.hrtime.bigint();
        for (let i = 0; i < records; i += inFlight) {
          const n = Math.min(inFlight, records - i);
          await Promise.all(
            Array.from({ length: n }, (_, j) => logs[(i + j) % writers]?.append(org, record(i + j))),
          );
        }
        const rate = records / (Number(process.hrtime.bigint() - start) / 1e9);
        const verified = await new AuditQuery(pools[0] ?? openPostgres(pg.url)).verify(org);
        if (!verified.ok || verified.checked !== records)
          throw new Error(`P6 on PostgreSQL: the chain of ${writers} writers does not verify`);
        return rate;
      } finally {
        await Promise.all(pools.map((db) => db.destroy()));
      }
    };
    await ingest(1, 'warm-up');
    const one = await ingest(1, 'one-writer');
    const three = await ingest(3, 'three-writers');
    const db = openPostgres(pg.url);
    const samples: number[] = [];
    try {
      const log = new AuditLog(db);
      for (let i = 0; i < 500; i++) {
        const t = process.hrtime.bigint();
        await log.append('quiet', record(i));
        samples.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    } finally {
      await db.destroy();
    }
    const label = `${records.toLocaleString('en')} records, one org, PostgreSQL`;
    return [
      {
        case: 'P6 audit ingest, PostgreSQL',
        metric: 'records/s, 1 controller (3,000 in flight)',
        unit: '/s',
        values: { ztka: one },
        note: label,
      },
      {
        case: 'P6 audit ingest, PostgreSQL',
        metric: 'records/s, 3 controllers sharing the chain (3,000 in flight); ratio to 1',
        unit: '/s',
        values: { ztka: three },
        ratio: three / one,
        note: label,
      },
      {
        case: 'P6 audit append alone, PostgreSQL',
        metric: 'p50 append, one at a time (lock, head, insert, commit)',
        unit: 'ms',
        values: { ztka: percentile(samples, 50) },
        note: '500 appends',
      },
    ];
  } finally {
    await pg.stop();
  }
}
