// Reading the trail: filtered pages, newest first, with a cursor; commands, including those the CLI made
// (one kubectl invocation is one Kubectl-Session); verification of the chain; pruning that keeps the rest
// verifiable.
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import {
  OPERATIONS_MAX,
  ZtkaError,
  type AuditCheckpoint,
  type AuditFilterName,
  type AuditVerification,
  type AuditVerifyProblem,
  type CommandView,
} from '@ztka/protocol';
import { dialectOf } from '../store/open.js';
import type { AuditRecordsTable, Database } from '../store/schema.js';
import { GENESIS, linkHash } from './chain.js';
import { lockChain } from './chain-lock.js';
import { columnsOf, type ApiRecord, type AuditRecord } from './record.js';
import type { AuditSigner } from './signer.js';

/** One kind of record, a time window, and the text filters (AUDIT_FILTERS), all optional. */
export type AuditFilter = {
  kind: 'api' | 'command' | 'system';
  since?: number;
  until?: number;
} & { [name in AuditFilterName]?: string };

export interface AuditPage {
  items: (AuditRecord & { seq: number })[];
  nextCursor?: string;
}

type Query = SelectQueryBuilder<Database, 'audit_records', object>;

function applyFilter(query: Query, orgId: string, f: AuditFilter): Query {
  let q = query.where('org_id', '=', orgId).where('kind', '=', f.kind);
  if (f.since !== undefined) q = q.where('at', '>=', f.since);
  if (f.until !== undefined) q = q.where('at', '<', f.until);
  if (f.project !== undefined) q = q.where('project', '=', f.project);
  if (f.cluster !== undefined) q = q.where('cluster', '=', f.cluster);
  if (f.user !== undefined) q = q.where('username', '=', f.user.toLowerCase());
  if (f.namespace !== undefined) q = q.where('namespace', '=', f.namespace);
  if (f.resource !== undefined) q = q.where('resource', '=', f.resource);
  if (f.verb !== undefined) q = q.where('verb', '=', f.verb);
  if (f.channel !== undefined) q = q.where('channel', '=', f.channel);
  if (f.session !== undefined) q = q.where('session_id', '=', f.session);
  if (f.kubectlSession !== undefined) q = q.where('kubectl_session', '=', f.kubectlSession);
  if (f.status !== undefined) {
    const cls = /^([1-5])xx$/.exec(f.status);
    if (cls) {
      const base = Number(cls[1]) * 100;
      q = q.where('status', '>=', base).where('status', '<', base + 100);
    } else q = q.where('status', '=', Number(f.status));
  }
  if (f.q !== undefined && f.q !== '') {
    // LIKE with the pattern's own wildcards escaped: the text is searched for as typed.
    const pattern = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where(sql<boolean>`summary LIKE ${pattern} ESCAPE '\\'`);
  }
  return q;
}

const encodeCursor = (seq: number) => Buffer.from(String(seq)).toString('base64url');
function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const seq = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(seq) || seq < 1 || encodeCursor(seq) !== cursor)
    throw new ZtkaError('bad_request', 'cursor is not one this server returned', { field: '/cursor' });
  return seq;
}

export class AuditQuery {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number = Date.now,
    /** Checks and signs checkpoints; without it no pruning checkpoint or anchor verifies (fail closed). */
    private readonly signer?: AuditSigner,
  ) {}

  /** One page, newest first. */
  async page(orgId: string, filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
    const before = decodeCursor(cursor);
    let q = applyFilter(this.db.selectFrom('audit_records'), orgId, filter);
    if (before !== undefined) q = q.where('seq', '<', before);
    const rows = await q
      .select(['seq', 'body'])
      .orderBy('seq', 'desc')
      .limit(limit + 1)
      .execute();
    const items = rows
      .slice(0, limit)
      .map((r) => ({ ...(JSON.parse(r.body) as AuditRecord), seq: Number(r.seq) }));
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, nextCursor: encodeCursor(last.seq) } : { items };
  }

  /** Every matching record, oldest first, a batch at a time: for exports that must not be built in memory. */
  async *scan(
    orgId: string,
    filter: AuditFilter,
    batch = 1000,
  ): AsyncGenerator<AuditRecord & { seq: number }> {
    let after = 0;
    for (;;) {
      const rows = await applyFilter(this.db.selectFrom('audit_records'), orgId, filter)
        .where('seq', '>', after)
        .select(['seq', 'body'])
        .orderBy('seq')
        .limit(batch)
        .execute();
      for (const r of rows) yield { ...(JSON.parse(r.body) as AuditRecord), seq: Number(r.seq) };
      if (rows.length < batch) return;
      after = Number(rows[rows.length - 1]?.seq ?? after);
    }
  }

  /**
   * Commands, newest first: command lines the browser shell recorded, and the kubectl invocations seen on
   * the API, one per Kubectl-Session and person, with the requests each made and what the server saw them
   * do. A request nobody was authenticated for is never a command: its headers are anyone's words.
   */
  async commands(orgId: string, filter: AuditFilter, limit: number): Promise<{ items: CommandView[] }> {
    const explicit = await this.page(orgId, { ...filter, kind: 'command' }, limit);
    // The invocations are found among API calls, whatever session filter the commands were asked with.
    const apiFilter: AuditFilter = { ...filter, kind: 'api' };
    delete apiFilter.kubectlSession;
    const sessions = await applyFilter(this.db.selectFrom('audit_records'), orgId, apiFilter)
      .where('kubectl_session', 'is not', null)
      .where('username', 'is not', null)
      // The browser shell records its command lines itself; its kubectl runs are not listed twice.
      .where((eb) => eb.or([eb('channel', 'is', null), eb('channel', '!=', 'web-shell')]))
      .select((eb) => [
        'kubectl_session',
        'username',
        eb.fn.min('at').as('at'),
        // A write has two records (RequestReceived, then its answer): a call is a request, not a record.
        eb.fn.count<number>('id').distinct().as('calls'),
        eb.fn.max('seq').as('maxSeq'),
      ])
      // Per person too: anyone may send another's Kubectl-Session, and must not join their command.
      .groupBy(['kubectl_session', 'username'])
      .orderBy('maxSeq', 'desc')
      .limit(limit)
      .execute();
    const invocations: CommandView[] = [];
    for (const s of sessions) {
      const rows = await this.db
        .selectFrom('audit_records')
        .select('body')
        .where('org_id', '=', orgId)
        .where('kind', '=', 'api')
        .where('kubectl_session', '=', s.kubectl_session)
        .where('username', '=', s.username)
        .orderBy('seq')
        .limit(SESSION_RECORDS_READ)
        .execute();
      const calls = rows.flatMap((r) => {
        const rec = JSON.parse(r.body) as AuditRecord;
        return rec.kind === 'api' ? [rec] : [];
      });
      const first = calls[0];
      invocations.push({
        source: 'kubectl',
        at: Number(s.at),
        user: first?.user ?? s.username,
        cluster: first?.cluster ?? '',
        channel: first?.channel ?? 'cli',
        command: first?.kubectlCommand ?? '',
        clientReported: true,
        kubectlSession: String(s.kubectl_session),
        calls: Number(s.calls),
        operations: operationsOf(calls),
      });
    }
    const shellLines: CommandView[] = explicit.items.flatMap((r) =>
      r.kind === 'command'
        ? [
            {
              source: 'shell' as const,
              at: r.at,
              user: r.user,
              cluster: r.cluster,
              channel: r.channel,
              command: r.command,
              clientReported: false,
              ...(r.sessionId ? { sessionId: r.sessionId } : {}),
              ...(r.refused !== undefined ? { refused: r.refused } : {}),
            },
          ]
        : [],
    );
    const items = [...shellLines, ...invocations];
    items.sort((a, b) => b.at - a.at);
    return { items: items.slice(0, limit) };
  }

  /**
   * Walks an org's chain from its start (or its pruning checkpoint, which must bear the audit key's
   * signature) and reports the first record that does not hold: modified (hash or columns disagree with the
   * body), deleted (a gap in seq, or a broken link) or reordered (a link to the wrong predecessor). Given a
   * signed head checkpoint (`anchor`), it also reports a chain that no longer holds the record the checkpoint
   * names with the hash it names: rewritten with every later hash recomputed, or cut short.
   *
   * `fromAnchor` walks only from the anchor on: what the checkpoint writer needs to know that the head it
   * is about to sign extends the last one it signed.
   */
  async verify(
    orgId: string,
    anchor?: AuditCheckpoint,
    opts: { fromAnchor?: boolean; upTo?: number } = {},
  ): Promise<VerifyResult> {
    const unsigned = (seq: number, message: string): VerifyResult => ({
      ok: false,
      checked: 0,
      firstBad: { seq, problem: 'checkpoint', message },
    });
    if (anchor) {
      if (anchor.type !== 'head' || anchor.org !== orgId)
        return unsigned(anchor.seq, "the checkpoint is not one of this org's chain heads");
      if (!this.signer?.verify(anchor))
        return unsigned(anchor.seq, "the checkpoint's signature is not this controller's audit key's");
    }
    const checkpoint = await this.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('org_id', '=', orgId)
      .executeTakeFirst();
    if (checkpoint) {
      const signed =
        checkpoint.key_id !== null &&
        checkpoint.signature !== null &&
        this.signer?.verify({
          type: 'prune',
          org: orgId,
          seq: Number(checkpoint.seq),
          hash: checkpoint.prev_hash,
          at: Number(checkpoint.pruned_at),
          keyId: checkpoint.key_id,
          signature: checkpoint.signature,
        }) === true;
      if (!signed)
        return unsigned(
          Number(checkpoint.seq),
          `the pruning checkpoint before record ${checkpoint.seq} is not signed with this controller's audit ` +
            'key: records before it may have been removed',
        );
    }
    const firstSeq = checkpoint ? Number(checkpoint.seq) : 1;
    const firstPrev = checkpoint ? checkpoint.prev_hash : GENESIS;
    // An anchor at or before where the chain now starts was pruned away, legitimately: the pruning
    // checkpoint is signed. Only the link into the first remaining record can still be compared.
    if (anchor && anchor.seq === firstSeq - 1 && anchor.hash !== firstPrev)
      return {
        ok: false,
        checked: 0,
        firstBad: {
          seq: firstSeq,
          problem: 'modified',
          message: `the chain does not continue from the signed checkpoint of record ${anchor.seq}`,
        },
      };
    const fromAnchor = opts.fromAnchor === true && anchor !== undefined && anchor.seq >= firstSeq;
    let expectedSeq = fromAnchor ? anchor.seq : firstSeq;
    // From an anchor, the anchor's own record is taken as it links and judged by its hash instead.
    let prevHash: string | undefined = fromAnchor ? undefined : firstPrev;
    let checked = 0;
    let after = expectedSeq - 1;
    const atAnchor = (seq: number, hash: string): string | undefined =>
      anchor && seq === anchor.seq && hash !== anchor.hash
        ? `record ${seq} is not the one the checkpoint of ${new Date(anchor.at).toISOString()} signed: ` +
          'it, or a record before it, was rewritten'
        : undefined;
    for (;;) {
      let q = this.db
        .selectFrom('audit_records')
        .selectAll()
        .where('org_id', '=', orgId)
        .where('seq', '>', after);
      if (opts.upTo !== undefined) q = q.where('seq', '<=', opts.upTo);
      const rows = await q.orderBy('seq').limit(2000).execute();
      for (const row of rows) {
        const seq = Number(row.seq);
        const bad = (problem: AuditVerifyProblem, message: string): VerifyResult => ({
          ok: false,
          checked,
          firstBad: { seq, id: row.id, problem, message },
        });
        if (seq !== expectedSeq)
          return bad('deleted', `records ${expectedSeq}–${seq - 1} are missing before record ${seq}`);
        if (prevHash !== undefined && row.prev_hash !== prevHash)
          return bad(
            'reordered',
            `record ${seq} does not link to record ${seq - 1}: deleted, replaced or moved`,
          );
        if (linkHash(row.prev_hash, seq, row.body) !== row.hash)
          return bad('modified', `record ${seq} was modified`);
        const rewritten = atAnchor(seq, row.hash);
        if (rewritten) return bad('modified', rewritten);
        let parsed: AuditRecord;
        try {
          parsed = JSON.parse(row.body) as AuditRecord;
        } catch {
          return bad('modified', `record ${seq} is not valid JSON`);
        }
        if (!sameColumns(row, parsed))
          return bad('modified', `record ${seq}'s columns disagree with its body`);
        prevHash = row.hash;
        expectedSeq = seq + 1;
        checked++;
      }
      if (rows.length < 2000) break;
      after = Number(rows[rows.length - 1]?.seq ?? after);
    }
    if (anchor && anchor.seq >= expectedSeq)
      return {
        ok: false,
        checked,
        firstBad: {
          seq: expectedSeq,
          problem: 'truncated',
          message:
            `records ${expectedSeq}–${anchor.seq} are missing: the checkpoint of ` +
            `${new Date(anchor.at).toISOString()} signed record ${anchor.seq}, and the trail ends before it`,
        },
      };
    return {
      ok: true,
      checked,
      ...(anchor ? { anchor: { seq: anchor.seq, at: anchor.at } } : {}),
      head: { seq: expectedSeq - 1, hash: prevHash ?? firstPrev },
    };
  }

  /**
   * Deletes records older than `before` (a prefix of the chain) and records, signed, where the chain now
   * starts; returns how many went and the signed checkpoint (for the checkpoint file), if any did.
   */
  async prune(orgId: string, before: number): Promise<{ deleted: number; checkpoint?: AuditCheckpoint }> {
    const signer = this.signer;
    if (!signer) throw new Error('pruning the audit trail needs the audit key');
    const shared = dialectOf(this.db) === 'postgres';
    // Read committed as in AuditLog: the read after the lock must see what the lock's last holder committed.
    const transaction = shared
      ? this.db.transaction().setIsolationLevel('read committed')
      : this.db.transaction();
    return transaction.execute(async (trx) => {
      // Another controller pruning the same org at once would otherwise read where to cut before this one
      // commits, and move the pruning checkpoint back before records already gone. Appends take a lock of
      // their own: they add after the head and pruning removes a prefix, so the two need not wait.
      if (shared) await lockChain(trx, 'prune', orgId);
      const last = await trx
        .selectFrom('audit_records')
        .select(['seq', 'hash'])
        .where('org_id', '=', orgId)
        .where('at', '<', before)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!last) return { deleted: 0 };
      const result = await trx
        .deleteFrom('audit_records')
        .where('org_id', '=', orgId)
        .where('seq', '<=', Number(last.seq))
        .executeTakeFirst();
      const signed = signer.sign({
        type: 'prune',
        org: orgId,
        seq: Number(last.seq) + 1,
        hash: last.hash,
        at: this.clock(),
      });
      const row = {
        seq: signed.seq,
        prev_hash: signed.hash,
        pruned_at: signed.at,
        key_id: signed.keyId,
        signature: signed.signature,
      };
      await trx
        .insertInto('audit_checkpoints')
        .values({ org_id: orgId, ...row })
        .onConflict((oc) => oc.column('org_id').doUpdateSet(row))
        .execute();
      return { deleted: Number(result.numDeletedRows), checkpoint: signed };
    });
  }
}

function sameColumns(row: AuditRecordsTable, record: AuditRecord): boolean {
  const expected = columnsOf(record);
  return (Object.keys(expected) as (keyof typeof expected)[]).every((k) => {
    const a = row[k];
    const b = expected[k];
    return a === b || (a !== null && b !== null && String(a) === String(b));
  });
}

/** `truncated`: records a signed checkpoint names are gone; `checkpoint`: a checkpoint is not genuine. */
export interface VerifyResult extends AuditVerification {
  /** The last record checked (not part of the API's answer). */
  head?: { seq: number; hash: string };
}

/** The records of one invocation read to find what it did: kubectl makes a handful of calls, not hundreds. */
const SESSION_RECORDS_READ = 500;

/** `verb resource[/subresource]` of each call, as the server parsed it, in order of first use. */
export function operationsOf(calls: readonly ApiRecord[]): string[] {
  const seen = new Set<string>();
  for (const c of calls) {
    const ref = c.objectRef;
    const what = ref?.resource
      ? `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}`
      : '(non-resource)';
    seen.add(`${c.verb} ${what}`);
    if (seen.size >= OPERATIONS_MAX) break;
  }
  return [...seen];
}

export type { CommandView } from '@ztka/protocol';
