// The replicas sharing one database. Each running controller has a row with its peer address and a
// heartbeat on its own clock; a row whose heartbeat is older than REPLICA_STALE_MS belongs to a replica that
// stopped (or cannot write), and the tunnels it said it held are swept (locations.ts). Clocks of replicas
// are assumed within a few seconds of each other (NTP), far less than the staleness allowed.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../store/schema.js';
import type { TunnelLocations } from './locations.js';

export const HEARTBEAT_INTERVAL_MS = 2000;
export const REPLICA_STALE_MS = 10_000;
/** A stopped replica's row is kept this long, for whoever wonders where a tunnel went. */
const REPLICA_FORGET_MS = 3600_000;

export class ReplicaDirectory {
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    /** This replica: new at every start, since nothing of a tunnel survives a restart. */
    readonly id: string,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Announces this replica, reachable by its peers at `peerUrl` (null: it takes no peer requests). */
  async register(peerUrl: string | null): Promise<void> {
    const now = this.clock();
    await this.db
      .insertInto('controller_replicas')
      .values({ id: this.id, peer_url: peerUrl, started_at: now, heartbeat_at: now })
      .execute();
  }

  /**
   * Beats every HEARTBEAT_INTERVAL_MS; each beat also clears what stopped replicas left (`locations`), then
   * runs `afterBeat` (the reconciliation of this replica's own tunnels with the store).
   */
  start(locations: TunnelLocations, afterBeat: () => Promise<void>): void {
    this.#timer = setInterval(() => {
      this.#beating = this.beat()
        .then(() => locations.sweep())
        .then(afterBeat)
        .catch((err: unknown) => this.log.warn({ err }, 'replica heartbeat failed'));
    }, HEARTBEAT_INTERVAL_MS).unref();
  }

  /** Says this replica is alive now. */
  async beat(): Promise<void> {
    await this.db
      .updateTable('controller_replicas')
      .set({ heartbeat_at: this.clock() })
      .where('id', '=', this.id)
      .execute();
  }

  /** Stops beating and leaves the directory: peers stop trying this replica at once, not after staleness. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating;
    await this.db.deleteFrom('controller_replicas').where('id', '=', this.id).execute();
  }

  /** The heartbeat below which a replica counts as gone. */
  staleBefore(): number {
    return this.clock() - REPLICA_STALE_MS;
  }

  /** The heartbeat below which a stopped replica's row is deleted. */
  forgottenBefore(): number {
    return this.clock() - REPLICA_FORGET_MS;
  }

  /** Live replicas, this one included: id and peer address. */
  async live(): Promise<{ id: string; peerUrl: string | null }[]> {
    const rows = await this.db
      .selectFrom('controller_replicas')
      .select(['id', 'peer_url'])
      .where('heartbeat_at', '>=', this.staleBefore())
      .orderBy('started_at')
      .execute();
    return rows.map((r) => ({ id: r.id, peerUrl: r.peer_url }));
  }
}
