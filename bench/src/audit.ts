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
