// Attacks on the audit trail by someone who can write the database but not the audit key: one suite for
// every database, run by audit/sqlite.test.ts on SQLite files and by the PostgreSQL end-to-end test. Each
// tampering is made with plain SQL, as such an attacker would, and the chain is made to look whole again
// wherever that is possible without the key.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Kysely } from 'kysely';
import type { AuditCheckpoint } from '@ztka/protocol';
import type { Database } from '../store/schema.js';
import { GENESIS, linkHash } from './chain.js';
import { AuditCheckpoints } from './checkpoints.js';
import { AuditLog } from './log.js';
import { AuditQuery } from './query.js';
import { canonicalJson } from './record.js';
import { AuditRetention } from './retention.js';
import { AuditSigner } from './signer.js';
import type { ContractStore } from '../store/contract.js';
import { apiCall } from './store-contract.js';

const DAY = 86_400_000;

/** Rewrites the chain from `from` on with every hash recomputed, as an attacker without the key can. */
export async function rehashFrom(db: Kysely<Database>, org: string, from: number): Promise<void> {
  const rows = await db
    .selectFrom('audit_records')
    .select(['seq', 'body', 'prev_hash'])
    .where('org_id', '=', org)
    .where('seq', '>=', from)
    .orderBy('seq')
    .execute();
  let prev = rows[0]?.prev_hash ?? GENESIS;
  for (const r of rows) {
    const hash = linkHash(prev, Number(r.seq), r.body);
    await db
      .updateTable('audit_records')
      .set({ prev_hash: prev, hash })
      .where('org_id', '=', org)
      .where('seq', '=', Number(r.seq))
      .execute();
    prev = hash;
  }
}

export function auditIntegrityContract(name: string, open: () => Promise<ContractStore>): void {
  describe(`audit integrity against a database writer: ${name}`, () => {
    const signer = AuditSigner.generate();
    const log = pino({ level: 'silent' });

    /** An org with `n` records and a signed checkpoint of its head, as `ztka audit checkpoint` prints. */
    async function seeded(db: Kysely<Database>, n: number, at = (i: number) => Date.now() + i) {
      const org = `org-${randomUUID()}`;
      const audit = new AuditLog(db);
      for (let i = 0; i < n; i++) await audit.append(org, apiCall({ at: at(i) }));
      const query = new AuditQuery(db, Date.now, signer);
      const last = await db
        .selectFrom('audit_records')
        .select(['seq', 'hash'])
        .where('org_id', '=', org)
        .orderBy('seq', 'desc')
        .executeTakeFirstOrThrow();
      const anchor = signer.sign({
        type: 'head',
        org,
        seq: Number(last.seq),
        hash: last.hash,
        at: Date.now(),
      });
      assert.deepEqual(await query.verify(org, anchor), {
        ok: true,
        checked: n,
        anchor: { seq: n, at: anchor.at },
        head: { seq: n, hash: last.hash },
      });
      return { org, audit, query, anchor };
    }

    async function withStore(work: (db: Kysely<Database>) => Promise<void>): Promise<void> {
      const store = await open();
      try {
        await work(store.db);
      } finally {
        await store.close();
      }
    }

    test('an edited record with every later hash recomputed passes the bare chain but not the checkpoint', () =>
      withStore(async (db) => {
        const { org, query, anchor } = await seeded(db, 20);
        const row = await db
          .selectFrom('audit_records')
          .select('body')
          .where('org_id', '=', org)
          .where('seq', '=', 7)
          .executeTakeFirstOrThrow();
        const edited = canonicalJson({ ...(JSON.parse(row.body) as object), status: 404 });
        await db
          .updateTable('audit_records')
          .set({ body: edited, status: 404 })
          .where('org_id', '=', org)
          .where('seq', '=', 7)
          .execute();
        await rehashFrom(db, org, 7);
        // What the attack was for: the chain alone is consistent again.
        assert.equal((await query.verify(org)).ok, true);
        const v = await query.verify(org, anchor);
        assert.equal(v.ok, false);
        assert.deepEqual([v.firstBad?.seq, v.firstBad?.problem], [20, 'modified']);
        assert.match(v.firstBad?.message ?? '', /not the one the checkpoint .* signed/);
      }));

    test('the newest records deleted: the trail is cut short of the checkpoint', () =>
      withStore(async (db) => {
        const { org, query, anchor } = await seeded(db, 20);
        await db.deleteFrom('audit_records').where('org_id', '=', org).where('seq', '>', 15).execute();
        assert.equal((await query.verify(org)).ok, true);
        const v = await query.verify(org, anchor);
        assert.deepEqual([v.ok, v.firstBad?.seq, v.firstBad?.problem], [false, 16, 'truncated']);
        assert.match(v.firstBad?.message ?? '', /records 16–20 are missing/);
      }));

    test('the oldest records deleted behind a forged pruning checkpoint are caught', () =>
      withStore(async (db) => {
        const { org, query, anchor } = await seeded(db, 20);
        const r5 = await db
          .selectFrom('audit_records')
          .select('hash')
          .where('org_id', '=', org)
          .where('seq', '=', 5)
          .executeTakeFirstOrThrow();
        await db.deleteFrom('audit_records').where('org_id', '=', org).where('seq', '<=', 5).execute();
        // Without a checkpoint the gap at the start shows.
        assert.equal((await query.verify(org)).firstBad?.problem, 'deleted');
        const forged = { org_id: org, seq: 6, prev_hash: r5.hash, pruned_at: Date.now() };
        const attempts = [
          { ...forged, key_id: null, signature: null },
          // A signature taken from a genuine checkpoint, and one made with another key.
          { ...forged, key_id: anchor.keyId, signature: anchor.signature },
          (() => {
            const other = AuditSigner.generate().sign({
              type: 'prune',
              org,
              seq: 6,
              hash: r5.hash,
              at: forged.pruned_at,
            });
            return { ...forged, key_id: signer.keyId, signature: other.signature };
          })(),
        ];
        for (const row of attempts) {
          await db.deleteFrom('audit_checkpoints').where('org_id', '=', org).execute();
          await db.insertInto('audit_checkpoints').values(row).execute();
          for (const v of [await query.verify(org), await query.verify(org, anchor)]) {
            assert.deepEqual([v.ok, v.firstBad?.seq, v.firstBad?.problem], [false, 6, 'checkpoint']);
            assert.match(v.firstBad?.message ?? '', /pruning checkpoint before record 6 is not signed/);
          }
        }
      }));

    test("a checkpoint is only believed with the controller's own key", () =>
      withStore(async (db) => {
        const { org, anchor } = await seeded(db, 5);
        const otherKey = new AuditQuery(db, Date.now, AuditSigner.generate());
        const noKey = new AuditQuery(db);
        for (const q of [otherKey, noKey]) {
          const v = await q.verify(org, anchor);
          assert.deepEqual([v.ok, v.firstBad?.problem], [false, 'checkpoint']);
          assert.match(v.firstBad?.message ?? '', /signature is not this controller's audit key's/);
        }
        // Nor one with a field changed after signing, nor one of another org.
        const own = new AuditQuery(db, Date.now, signer);
        const moved: AuditCheckpoint = { ...anchor, seq: 3 };
        assert.equal((await own.verify(org, moved)).firstBad?.problem, 'checkpoint');
        assert.equal((await own.verify(`org-${randomUUID()}`, anchor)).firstBad?.problem, 'checkpoint');
      }));

    test('pruning writes a signed checkpoint: the rest verifies against old and new anchors, a forgery does not', () =>
      withStore(async (db) => {
        const now = Date.now();
        // Ten records 400 days old, ten from today.
        const { org, audit, anchor } = await seeded(db, 20, (i) => (i < 10 ? now - 400 * DAY : now) + i);
        await db.insertInto('orgs').values({ id: org, name: org, created_at: now }).execute();
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-checkpoints-'));
        try {
          const query = new AuditQuery(db, () => now, signer);
          const checkpoints = new AuditCheckpoints({
            signer,
            query,
            file: path.join(dir, 'checkpoints.jsonl'),
            intervalMs: 60_000,
            log,
          });
          const retention = new AuditRetention({ db, query, checkpoints, days: 365, log, clock: () => now });
          assert.ok((await retention.run()) >= 10);
          const left = await db
            .selectFrom('audit_records')
            .select('seq')
            .where('org_id', '=', org)
            .orderBy('seq')
            .execute();
          assert.deepEqual(
            left.map((r) => Number(r.seq)),
            Array.from({ length: 10 }, (_, i) => i + 11),
          );
          const lines = (await fs.readFile(path.join(dir, 'checkpoints.jsonl'), 'utf8')).trim().split('\n');
          const pruned = lines.map((l) => JSON.parse(l) as AuditCheckpoint).find((c) => c.org === org);
          assert.deepEqual([pruned?.type, pruned?.seq, pruned && signer.verify(pruned)], ['prune', 11, true]);
          // Retention is idempotent: nothing more is old enough.
          assert.equal(
            await new AuditRetention({ db, query, checkpoints, days: 365, log, clock: () => now }).run(),
            0,
          );

          assert.equal((await query.verify(org, anchor)).ok, true);
          await audit.append(org, apiCall({ at: now + 100 }));
          const fresh = await checkpoints.now(org);
          assert.deepEqual([fresh.seq, (await checkpoints.latest(org)).checkpoint], [21, fresh]);
          assert.deepEqual(await query.verify(org, fresh), {
            ok: true,
            checked: 11,
            anchor: { seq: 21, at: fresh.at },
            head: { seq: 21, hash: fresh.hash },
          });

          // Pruning further by hand and moving the checkpoint along does not verify.
          const r15 = await db
            .selectFrom('audit_records')
            .select('hash')
            .where('org_id', '=', org)
            .where('seq', '=', 15)
            .executeTakeFirstOrThrow();
          await db.deleteFrom('audit_records').where('org_id', '=', org).where('seq', '<=', 15).execute();
          await db
            .updateTable('audit_checkpoints')
            .set({ seq: 16, prev_hash: r15.hash })
            .where('org_id', '=', org)
            .execute();
          const v = await query.verify(org, fresh);
          assert.deepEqual([v.ok, v.firstBad?.problem], [false, 'checkpoint']);

          // Retention 0 keeps everything.
          assert.equal(await new AuditRetention({ db, query, checkpoints, days: 0, log }).run(), 0);
        } finally {
          await fs.rm(dir, { recursive: true, force: true });
        }
      }));

    test('the checkpoint writer signs what it committed, and refuses to vouch for a rewritten database', () =>
      withStore(async (db) => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-checkpoints-'));
        const file = path.join(dir, 'checkpoints.jsonl');
        try {
          const org = `org-${randomUUID()}`;
          const query = new AuditQuery(db, Date.now, signer);
          const start = () => {
            const audit = new AuditLog(db);
            const checkpoints = new AuditCheckpoints({ signer, query, file, intervalMs: 60_000, log });
            audit.onCommit((o, _r, seq, hash) => checkpoints.committed(o, seq, hash));
            return { audit, checkpoints };
          };
          const first = start();
          for (let i = 0; i < 12; i++) await first.audit.append(org, apiCall());
          await first.checkpoints.close();
          const latest = (await first.checkpoints.latest(org)).checkpoint;
          assert.deepEqual([latest?.type, latest?.seq], ['head', 12]);
          assert.ok(latest && signer.verify(latest));
          assert.equal((await fs.stat(file)).mode & 0o777, 0o600);

          // Stopped; the database is rewritten; started again with the same key and file.
          const r3 = await db
            .selectFrom('audit_records')
            .select('body')
            .where('org_id', '=', org)
            .where('seq', '=', 3)
            .executeTakeFirstOrThrow();
          await db
            .updateTable('audit_records')
            .set({ body: r3.body.replace('"status":200', '"status":500'), status: 500 })
            .where('org_id', '=', org)
            .where('seq', '=', 3)
            .execute();
          await rehashFrom(db, org, 3);
          const second = start();
          await second.audit.append(org, apiCall());
          await second.checkpoints.flush();
          // Nothing signed for the rewritten chain: the newest checkpoint is still the genuine one.
          assert.deepEqual((await second.checkpoints.latest(org)).checkpoint, latest);
          await assert.rejects(second.checkpoints.now(org), /does not verify against its last checkpoint/);
          assert.equal((await query.verify(org, latest)).firstBad?.problem, 'modified');

          // A line written into the file by someone else is not taken as the newest checkpoint.
          const forged = { ...latest, seq: 13, hash: 'f'.repeat(64) };
          await fs.appendFile(file, `${JSON.stringify(forged)}\n`);
          assert.match(
            (await second.checkpoints.latest(org)).problem ?? '',
            /not signed with this controller's/,
          );
          await fs.appendFile(file, 'garbage\n');
          assert.match((await second.checkpoints.latest(org)).problem ?? '', /not a checkpoint/);
        } finally {
          await fs.rm(dir, { recursive: true, force: true });
        }
      }));
  });
}
