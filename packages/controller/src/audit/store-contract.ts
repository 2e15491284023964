// The audit store's contract, one suite for every database: run by audit/sqlite.test.ts on SQLite and by
// the PostgreSQL end-to-end test on a real PostgreSQL. Everything it checks goes through the same Kysely
// code the controller runs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { sql } from 'kysely';
import type { ContractStore } from '../store/contract.js';
import { exportRecords } from './export.js';
import { AuditLog } from './log.js';
import { AuditQuery } from './query.js';
import type { ApiRecord, AuditRecord } from './record.js';
import { AuditSigner } from './signer.js';

let counter = 0;
export function apiCall(over: Partial<ApiRecord> = {}): ApiRecord {
  counter++;
  return {
    kind: 'api',
    id: randomUUID(),
    stage: 'ResponseComplete',
    at: Date.UTC(2026, 10, 28, 12) + counter,
    endedAt: Date.UTC(2026, 10, 28, 12) + counter + 3,
    user: 'alice@example.com',
    role: 'PROJECT_ADMIN',
    project: 'desktop',
    cluster: 'desktop',
    channel: 'cli',
    method: 'GET',
    requestURI: '/k8s/clusters/desktop/api/v1/namespaces/default/pods',
    verb: 'list',
    objectRef: { apiVersion: 'v1', resource: 'pods', namespace: 'default' },
    sourceIPs: ['127.0.0.1'],
    status: 200,
    bytes: 100,
    durationMs: 3,
    ...over,
  };
}

async function collect(stream: PassThrough, work: Promise<void>): Promise<string> {
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  await work;
  return text;
}

export function auditStoreContract(name: string, open: () => Promise<ContractStore>): void {
  describe(`audit store contract: ${name}`, () => {
    const org = () => `org-${randomUUID()}`;

    test('appends form one gapless chain per org, even under concurrent appends', async () => {
      const store = await open();
      try {
        const log = new AuditLog(store.db);
        const query = new AuditQuery(store.db);
        const [a, b] = [org(), org()];
        await Promise.all(Array.from({ length: 600 }, (_, i) => log.append(i % 3 === 0 ? b : a, apiCall())));
        for (const [o, n] of [
          [a, 400],
          [b, 200],
        ] as const) {
          const v = await query.verify(o);
          assert.deepEqual([v.ok, v.checked], [true, n]);
        }
      } finally {
        await store.close();
      }
    });

    test('appends from separate callbacks of one event-loop turn share a transaction', async () => {
      const store = await open();
      try {
        const log = new AuditLog(store.db);
        const batches: number[] = [];
        log.onBatch((n) => batches.push(n));
        const o = org();
        await log.append(o, apiCall()); // reads the chain's head, so the burst below measures batching alone
        // Like requests ending in separate I/O callbacks of one loop turn: each callback appends one record.
        // (Immediates queued together all run in one phase, which timers only usually do.)
        const appends: Promise<void>[] = [];
        await new Promise<void>((resolve) => {
          for (let i = 0; i < 20; i++) setImmediate(() => void appends.push(log.append(o, apiCall())));
          setImmediate(resolve);
        });
        await Promise.all(appends);
        assert.deepEqual(batches, [1, 20]);
      } finally {
        await store.close();
      }
    });

    test('pages come newest first, filtered, with a cursor that walks everything once', async () => {
      const store = await open();
      try {
        const log = new AuditLog(store.db);
        const query = new AuditQuery(store.db);
        const o = org();
        for (let i = 0; i < 25; i++)
          await log.append(
            o,
            apiCall({
              cluster: i % 2 ? 'desktop' : 'lab',
              status: i % 5 === 0 ? 403 : 200,
              user: i % 3 === 0 ? 'bob@example.com' : 'alice@example.com',
              requestURI: `/k8s/clusters/x/api/v1/namespaces/ns-${i}/pods`,
            }),
          );
        const seen: number[] = [];
        let cursor: string | undefined;
        do {
          const page = await query.page(o, { kind: 'api' }, 7, cursor);
          seen.push(...page.items.map((r) => r.seq));
          cursor = page.nextCursor;
        } while (cursor);
        assert.deepEqual(
          seen,
          Array.from({ length: 25 }, (_, i) => 25 - i),
        );
        const lab = await query.page(o, { kind: 'api', cluster: 'lab' }, 100);
        assert.equal(lab.items.length, 13);
        assert.ok(lab.items.every((r) => r.kind === 'api' && r.cluster === 'lab'));
        assert.equal((await query.page(o, { kind: 'api', status: '4xx' }, 100)).items.length, 5);
        assert.equal((await query.page(o, { kind: 'api', user: 'BOB@example.com' }, 100)).items.length, 9);
        const text = await query.page(o, { kind: 'api', q: 'ns-17/' }, 100);
        assert.deepEqual(
          text.items.map((r) => r.kind === 'api' && r.requestURI),
          ['/k8s/clusters/x/api/v1/namespaces/ns-17/pods'],
        );
        // LIKE wildcards in the search are taken literally.
        assert.equal((await query.page(o, { kind: 'api', q: '%' }, 100)).items.length, 0);
        assert.equal((await query.page(o, { kind: 'system' }, 100)).items.length, 0);
      } finally {
        await store.close();
      }
    });

    test('commands group the API calls of one kubectl invocation, beside explicit command lines', async () => {
      const store = await open();
      try {
        const log = new AuditLog(store.db);
        const query = new AuditQuery(store.db);
        const o = org();
        for (let i = 0; i < 3; i++)
          await log.append(o, apiCall({ kubectlSession: 'sess-1', kubectlCommand: 'kubectl get' }));
        // A write: two stages of one request, and its command text is only the client's claim.
        const del = apiCall({
          kubectlSession: 'sess-2',
          kubectlCommand: 'kubectl get pods',
          verb: 'delete',
          method: 'DELETE',
          objectRef: { apiVersion: 'v1', resource: 'pods', namespace: 'default', name: 'web' },
        });
        await log.append(o, { ...del, stage: 'RequestReceived', status: 0 });
        await log.append(o, del);
        // Nobody was authenticated: its headers are anyone's words, never a command.
        await log.append(
          o,
          apiCall({
            user: null,
            status: 401,
            kubectlSession: 'sess-3',
            kubectlCommand: 'kubectl delete ns x',
          }),
        );
        await log.append(o, {
          kind: 'system',
          id: randomUUID(),
          at: Date.now(),
          event: 'login',
          user: 'carol',
          // Keys out of order: the summary column must not depend on it.
          detail: { zeta: 1, alpha: { y: 2, b: 3 } },
        });
        await log.append(o, {
          kind: 'command',
          id: randomUUID(),
          at: Date.UTC(2027, 0, 1),
          user: 'carol',
          cluster: 'desktop',
          channel: 'web-shell',
          command: 'kubectl get ns',
        });
        const { items } = await query.commands(o, { kind: 'command' }, 10);
        assert.deepEqual(
          items.map((c) => [c.source, c.command, c.clientReported, c.calls ?? null, c.operations ?? null]),
          [
            ['shell', 'kubectl get ns', false, null, null],
            ['kubectl', 'kubectl get pods', true, 1, ['delete pods']],
            ['kubectl', 'kubectl get', true, 3, ['list pods']],
          ],
        );
        const calls = await query.page(o, { kind: 'api', kubectlSession: 'sess-1' }, 10);
        assert.equal(calls.items.length, 3);
        const v = await query.verify(o);
        assert.deepEqual([v.ok, v.checked], [true, 8]);
      } finally {
        await store.close();
      }
    });

    test('verify names the first record that was modified, deleted or reordered', async () => {
      const store = await open();
      try {
        const db = store.db;
        const log = new AuditLog(db);
        const query = new AuditQuery(db);
        const seed = async () => {
          const o = org();
          for (let i = 0; i < 10; i++) await log.append(o, apiCall());
          assert.equal((await query.verify(o)).ok, true);
          return o;
        };
        const row = (o: string, seq: number) =>
          db
            .selectFrom('audit_records')
            .selectAll()
            .where('org_id', '=', o)
            .where('seq', '=', seq)
            .executeTakeFirstOrThrow();

        // Modified body.
        let o = await seed();
        const r4 = await row(o, 4);
        await db
          .updateTable('audit_records')
          .set({ body: r4.body.replace('"status":200', '"status":201') })
          .where('org_id', '=', o)
          .where('seq', '=', 4)
          .execute();
        assert.deepEqual(
          { ...(await query.verify(o)).firstBad, message: '' },
          { seq: 4, id: r4.id, problem: 'modified', message: '' },
        );

        // Modified column only (what filters see), body intact.
        o = await seed();
        await db
          .updateTable('audit_records')
          .set({ username: 'mallory' })
          .where('org_id', '=', o)
          .where('seq', '=', 6)
          .execute();
        assert.equal((await query.verify(o)).firstBad?.seq, 6);

        // Deleted.
        o = await seed();
        await db.deleteFrom('audit_records').where('org_id', '=', o).where('seq', '=', 5).execute();
        assert.deepEqual(
          [(await query.verify(o)).firstBad?.seq, (await query.verify(o)).firstBad?.problem],
          [6, 'deleted'],
        );

        // Deleted and the rest renumbered to hide the gap.
        o = await seed();
        await db.deleteFrom('audit_records').where('org_id', '=', o).where('seq', '=', 3).execute();
        await db
          .updateTable('audit_records')
          .set({ seq: sql`seq - 1` })
          .where('org_id', '=', o)
          .where('seq', '>', 3)
          .execute();
        assert.equal((await query.verify(o)).firstBad?.seq, 3);

        // Reordered: two records swap places.
        o = await seed();
        const [a, b] = [await row(o, 7), await row(o, 8)];
        await db
          .updateTable('audit_records')
          .set({ seq: -1 })
          .where('org_id', '=', o)
          .where('seq', '=', 7)
          .execute();
        await db
          .updateTable('audit_records')
          .set({ seq: 7 })
          .where('org_id', '=', o)
          .where('seq', '=', 8)
          .execute();
        await db
          .updateTable('audit_records')
          .set({ seq: 8 })
          .where('org_id', '=', o)
          .where('seq', '=', -1)
          .execute();
        const bad = (await query.verify(o)).firstBad;
        assert.equal(bad?.seq, 7);
        assert.ok(bad?.id === b.id && a.id !== b.id);
        assert.equal(bad.problem, 'reordered');
      } finally {
        await store.close();
      }
    });

    test('pruning keeps what remains verifiable and the chain goes on', async () => {
      const store = await open();
      try {
        const log = new AuditLog(store.db);
        const query = new AuditQuery(store.db, Date.now, AuditSigner.generate());
        const o = org();
        for (let i = 0; i < 10; i++) await log.append(o, apiCall({ at: 1000 + i }));
        assert.equal((await query.prune(o, 1006)).deleted, 6);
        assert.deepEqual([(await query.verify(o)).ok, (await query.verify(o)).checked], [true, 4]);
        const fresh = new AuditLog(store.db); // a restarted controller
        await fresh.append(o, apiCall());
        assert.deepEqual([(await query.verify(o)).ok, (await query.verify(o)).checked], [true, 5]);
        // Deleting the first remaining record is still caught.
        await store.db.deleteFrom('audit_records').where('org_id', '=', o).where('seq', '=', 7).execute();
        assert.equal((await query.verify(o)).ok, false);
      } finally {
        await store.close();
      }
    });

    test('hostile content is stored whole and exported safely', async () => {
      const store = await open();
      try {
        const log = new AuditLog(store.db);
        const query = new AuditQuery(store.db);
        const o = org();
        const markup = '<script>alert(1)</script>\u001b[31mred\u0007\r\n"quoted",=cmd|calc';
        const huge = `kubectl apply -f - <<EOF\n${'x'.repeat(1 << 20)}\nEOF`;
        const records: AuditRecord[] = [
          apiCall({
            user: markup,
            requestURI: `/k8s/clusters/x/api/v1/namespaces/${encodeURIComponent(markup)}`,
          }),
          {
            kind: 'command',
            id: randomUUID(),
            at: Date.now(),
            user: 'eve',
            cluster: 'desktop',
            channel: 'web-shell',
            command: huge,
          },
          {
            kind: 'command',
            id: randomUUID(),
            at: Date.now(),
            user: 'eve',
            cluster: 'desktop',
            channel: 'web-shell',
            command: markup,
          },
        ];
        for (const r of records) await log.append(o, r);
        const cmds = await query.page(o, { kind: 'command' }, 10);
        assert.deepEqual(
          cmds.items.map((r) => r.kind === 'command' && r.command),
          [markup, huge],
        );
        assert.equal((await query.page(o, { kind: 'api', user: markup }, 10)).items.length, 1);

        const jsonl = new PassThrough();
        const lines = (
          await collect(
            jsonl,
            exportRecords(query.scan(o, { kind: 'command' }), 'jsonl', jsonl).then(() => void jsonl.end()),
          )
        )
          .trim()
          .split('\n');
        assert.equal(lines.length, 2, 'one line per record: newlines inside are escaped');
        assert.deepEqual(
          lines.map((l) => (JSON.parse(l) as { command: string }).command),
          [huge, markup],
        );

        const csv = new PassThrough();
        const text = await collect(
          csv,
          exportRecords(query.scan(o, { kind: 'api' }), 'csv', csv).then(() => void csv.end()),
        );
        assert.ok(text.startsWith('seq,at,kind,'), text.slice(0, 80));
        assert.ok(text.includes('"<script>alert(1)</script>'), 'markup is a quoted cell, not a broken row');
        assert.ok(!/\n=cmd/.test(text), 'no line starts a formula');
        assert.equal((await query.verify(o)).ok, true);
      } finally {
        await store.close();
      }
    });

    test('controllers sharing the database append to one chain: no forks, no gaps, each record once', async (t) => {
      const store = await open();
      try {
        if (!store.replica) return t.skip('one writer process per database');
        const replica = store.replica;
        const [a, b] = [org(), org()];
        const writers = Array.from({ length: 3 }, () => {
          const log = new AuditLog(replica());
          const seen = new Map<string, number[]>();
          log.onCommit((o, _r, seq) => seen.set(o, [...(seen.get(o) ?? []), seq]));
          const batches: number[] = [];
          log.onBatch((n) => batches.push(n));
          return { log, seen, batches, ids: [] as string[] };
        });
        const ROUNDS = 25;
        const PER_ROUND = 40;
        const committed = async (ids: string[]) =>
          (await store.db.selectFrom('audit_records').select('id').where('id', 'in', ids).execute()).length;
        // Each writer appends in rounds, as requests keep arriving, so the three interleave batch by batch.
        await Promise.all(
          writers.map(async (w) => {
            for (let round = 0; round < ROUNDS; round++) {
              const records = Array.from({ length: PER_ROUND }, () => apiCall());
              w.ids.push(...records.map((r) => r.id));
              await Promise.all(records.map((r, i) => w.log.append(i % 3 === 0 ? b : a, r)));
              // Resolved means committed: another pool already sees every record of the round.
              assert.equal(await committed(records.map((r) => r.id)), PER_ROUND);
            }
          }),
        );

        const query = new AuditQuery(store.db);
        const total = writers.length * ROUNDS * PER_ROUND;
        const forB = writers.length * ROUNDS * Math.ceil(PER_ROUND / 3);
        for (const [o, n] of [
          [a, total - forB],
          [b, forB],
        ] as const) {
          const v = await query.verify(o);
          assert.deepEqual([v.ok, v.checked, v.firstBad], [true, n, undefined]);
        }
        const rows = await store.db
          .selectFrom('audit_records')
          .select(['id', 'org_id', 'seq'])
          .where('org_id', 'in', [a, b])
          .orderBy('org_id')
          .orderBy('seq')
          .execute();
        const ids = rows.map((r) => r.id);
        assert.deepEqual(new Set(ids).size, ids.length, 'no record twice');
        assert.deepEqual([...ids].sort(), writers.flatMap((w) => w.ids).sort(), 'every record, once');
        // The writers took turns: the chain passes from one to another many times, not once each.
        const writerOf = new Map(writers.flatMap((w, i) => w.ids.map((id) => [id, i] as const)));
        const turns = rows.filter(
          (r, i) => i > 0 && writerOf.get(r.id) !== writerOf.get(rows[i - 1]?.id ?? ''),
        );
        assert.ok(turns.length > 2 * writers.length, `${turns.length} changes of writer along the chain`);
        for (const w of writers) {
          assert.ok(w.batches.length > 1, 'group commit: several batches');
          // Each writer learns of its own records in chain order: what its checkpoints rely on.
          for (const seqs of w.seen.values())
            assert.ok(seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] ?? 0)));
        }
      } finally {
        await store.close();
      }
    });

    // Bounded, and what it started is undone when the time is up: a transaction left open would keep its
    // pool, and the test process, alive long after the runner's verdict.
    test(
      'controllers pruning the same org at once leave a chain that verifies',
      { timeout: 60_000 },
      async (t) => {
        const store = await open();
        let release = (): void => undefined;
        t.signal.addEventListener('abort', () => release());
        const started: Promise<unknown>[] = [];
        try {
          if (!store.replica) return t.skip('one writer process per database');
          const signer = AuditSigner.generate();
          const o = org();
          const log = new AuditLog(store.db);
          for (let i = 0; i < 40; i++)
            await Promise.all(
              Array.from({ length: 10 }, (_, j) => log.append(o, apiCall({ at: 1000 + i * 10 + j }))),
            );
          // The backend that `blocker` holds up, by pid: a count of lock waits in the database cannot tell who
          // waits for whom, and waits for a state that may already have come and gone.
          const blockedBy = async (blocker: number, who: string): Promise<number> => {
            const deadline = Date.now() + 20_000;
            for (;;) {
              const { rows } = await sql<{ pid: number }>`
              SELECT pid FROM pg_stat_activity WHERE ${blocker}::int = ANY(pg_blocking_pids(pid))`.execute(
                store.db,
              );
              const pid = rows[0]?.pid;
              if (pid !== undefined) return pid;
              if (Date.now() > deadline || t.signal.aborted) {
                const activity = await sql`
                SELECT pid, state, wait_event_type, wait_event, pg_blocking_pids(pid) AS blocked_by, query
                FROM pg_stat_activity WHERE datname = current_database()`.execute(store.db);
                throw new Error(
                  `${who} never waited for backend ${blocker}: ${JSON.stringify(activity.rows, null, 1)}`,
                );
              }
              await new Promise((r) => setTimeout(r, 10));
            }
          };
          // The worst order, made certain: the controller whose clock is further on reaches its DELETE first,
          // and both are held there (by a transaction holding the first record) until both have decided where
          // to cut. Without a lock between them the later one would move the chain's start back to 101.
          const held = new Promise<void>((r) => (release = r));
          let holding = (_pid: number): void => undefined;
          const locked = new Promise<number>((r) => (holding = r));
          const holder = store
            .replica()
            .transaction()
            .execute(async (trx) => {
              const rows = await trx
                .selectFrom('audit_records')
                .select(['seq', sql<number>`pg_backend_pid()`.as('pid')])
                .where('org_id', '=', o)
                .where('seq', '=', 1)
                .forUpdate()
                .execute();
              // Found, not already deleted: a prune that got there first would hold nothing up.
              const [first] = rows;
              assert.ok(first, 'the first record is there to hold');
              holding(first.pid);
              await held;
            });
          started.push(holder);
          // The first prune starts once the row is held, not merely asked for: each comes through a pool of
          // its own, and a prune whose connection were ready first would delete the row and be gone.
          const holderPid = await Promise.race([
            locked,
            holder.then(() => Promise.reject(new Error('the holder ended without holding the first record'))),
          ]);
          const far = new AuditQuery(store.replica(), Date.now, signer).prune(o, 1300);
          started.push(far);
          const farPid = await blockedBy(holderPid, 'the prune of records before 1300');
          const near = new AuditQuery(store.replica(), Date.now, signer).prune(o, 1100);
          started.push(near);
          await blockedBy(farPid, 'the prune of records before 1100');
          // A third controller keeps appending meanwhile.
          const other = new AuditLog(store.replica());
          const appended = Promise.all(Array.from({ length: 200 }, () => other.append(o, apiCall())));
          started.push(appended);
          release();
          await holder;
          const [f, n] = await Promise.all([far, near, appended]);
          assert.deepEqual([f.deleted, n.deleted], [300, 0]);
          const v = await new AuditQuery(store.db, Date.now, signer).verify(o);
          assert.deepEqual([v.ok, v.checked, v.firstBad], [true, 300, undefined]);
          const start = await store.db
            .selectFrom('audit_checkpoints')
            .select('seq')
            .where('org_id', '=', o)
            .executeTakeFirstOrThrow();
          assert.equal(Number(start.seq), 301);
        } finally {
          release();
          // Every transaction ends before its pool is closed, which would otherwise wait for it.
          await Promise.allSettled(started);
          await store.close();
        }
      },
    );
  });
}
