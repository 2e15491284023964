// Retention: records older than --audit-retention-days are pruned, a prefix of each org's chain at a time,
// and the signed pruning checkpoint goes to the checkpoint file too, so the rest still verifies and a
// pruning nobody signed does not.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.js';
import type { AuditCheckpoints } from './checkpoints.js';
import type { AuditQuery } from './query.js';

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  db: Kysely<Database>;
  query: AuditQuery;
  checkpoints: AuditCheckpoints;
  /** 0 keeps everything. */
  days: number;
  log: Logger;
  clock?: () => number;
}

export class AuditRetention {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(private readonly opts: RetentionOptions) {}

  /** Prunes every org once; resolves with the number of records deleted. One run at a time. */
  run(): Promise<number> {
    this.#running ??= this.#prune().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Runs now and then every `intervalMs`; failures are logged and retried next time. */
  start(intervalMs = 3600_000): void {
    if (this.opts.days === 0) return;
    const tick = () =>
      void this.run().catch((err: unknown) =>
        this.opts.log.warn(
          { reason: err instanceof Error ? err.message : String(err) },
          'audit prune failed',
        ),
      );
    tick();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  async #prune(): Promise<number> {
    if (this.opts.days === 0) return 0;
    const before = (this.opts.clock ?? Date.now)() - this.opts.days * DAY_MS;
    const orgs = await this.opts.db.selectFrom('orgs').select('id').execute();
    let total = 0;
    for (const { id } of orgs) {
      const { deleted, checkpoint } = await this.opts.query.prune(id, before);
      if (checkpoint) await this.opts.checkpoints.record(checkpoint);
      if (deleted > 0)
        this.opts.log.info({ org: id, deleted, firstSeq: checkpoint?.seq }, 'audit records pruned');
      total += deleted;
    }
    return total;
  }
}
