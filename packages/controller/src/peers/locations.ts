// Which replica holds each cluster's tunnel. A replica claims a cluster when its agent's connection becomes
// the tunnel and releases it when that tunnel closes; every write names the tunnel (its session id), so a
// late release of an old tunnel never undoes a newer claim, and two replicas taking the same cluster at once
// cannot both win (compare-and-set on the session id). The `connected` flag of the cluster follows the
// location in the same transaction.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { TunnelLocation } from '../tunnel/claims.js';
import type { ReplicaDirectory } from './replicas.js';

export type { TunnelLocation };

/** How long a cluster whose tunnel a stopping replica handed over stays connected, waiting for its agent. */
export const HANDOVER_MS = 10_000;

/** The cluster's id, by name, read inside the caller's transaction. */
function clusterId(tx: Kysely<Database>, cluster: string): Promise<{ id: string } | undefined> {
  return tx.selectFrom('clusters').select('id').where('name', '=', cluster).executeTakeFirst();
}

export class TunnelLocations {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly replicas: ReplicaDirectory,
    private readonly clock: () => number = Date.now,
  ) {}

  get replicaId(): string {
    return this.replicas.id;
  }

  async find(cluster: string): Promise<TunnelLocation | undefined> {
    const row = await this.db
      .selectFrom('tunnel_locations as l')
      .innerJoin('clusters as c', 'c.id', 'l.cluster_id')
      .leftJoin('controller_replicas as r', 'r.id', 'l.replica_id')
      .select(['l.replica_id', 'l.session_id', 'l.jit_namespace', 'r.peer_url', 'r.heartbeat_at'])
      .where('c.name', '=', cluster)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      cluster,
      replicaId: row.replica_id,
      sessionId: row.session_id,
      jitNamespace: row.jit_namespace,
      peerUrl: row.peer_url ?? null,
      live: row.heartbeat_at !== null && Number(row.heartbeat_at) >= this.replicas.staleBefore(),
    };
  }

  /** The tunnels the store says this replica holds: cluster name → session id. */
  async mine(): Promise<Map<string, string>> {
    const rows = await this.db
      .selectFrom('tunnel_locations as l')
      .innerJoin('clusters as c', 'c.id', 'l.cluster_id')
      .select(['c.name', 'l.session_id'])
      .where('l.replica_id', '=', this.replicas.id)
      .execute();
    return new Map(rows.map((r) => [r.name, r.session_id]));
  }

  /**
   * Whether a cluster with no usable route is expected back within seconds: it is still marked connected
   * (its tunnel was handed over by a stopping replica, or its holder died and is not yet swept).
   */
  async reconnecting(cluster: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('clusters')
      .select('connected')
      .where('name', '=', cluster)
      .executeTakeFirst();
    return row?.connected === 1;
  }

  /**
   * Records that this replica's tunnel `sessionId` carries `cluster`. `replacing` is the tunnel the caller
   * found there and judged gone (null: it found none); if another claim came in meanwhile, nothing is
   * written and the answer is false.
   */
  async claim(
    cluster: string,
    tunnel: { sessionId: string; jitNamespace: string },
    replacing: string | null,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const found = await clusterId(tx, cluster);
      if (!found) return false;
      const values = {
        replica_id: this.replicas.id,
        session_id: tunnel.sessionId,
        jit_namespace: tunnel.jitNamespace,
        connected_at: this.clock(),
      };
      let won = false;
      if (replacing !== null) {
        const moved = await tx
          .updateTable('tunnel_locations')
          .set(values)
          .where('cluster_id', '=', found.id)
          .where('session_id', '=', replacing)
          .executeTakeFirst();
        won = moved.numUpdatedRows > 0n;
      }
      if (!won) {
        const added = await tx
          .insertInto('tunnel_locations')
          .values({ cluster_id: found.id, ...values })
          .onConflict((oc) => oc.column('cluster_id').doNothing())
          .executeTakeFirst();
        won = (added.numInsertedOrUpdatedRows ?? 0n) > 0n;
      }
      if (won) await tx.updateTable('clusters').set({ connected: 1 }).where('id', '=', found.id).execute();
      return won;
    });
  }

  /**
   * This replica's tunnel `sessionId` of `cluster` closed: the cluster is disconnected unless it moved on.
   * A tunnel closed because this replica stops is `handedOver`: its agent is already redialling another
   * replica, so the cluster stays connected for HANDOVER_MS, and requests meanwhile are told to retry.
   */
  async release(cluster: string, sessionId: string, handedOver = false): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const found = await clusterId(tx, cluster);
      if (!found) return;
      const gone = await tx
        .deleteFrom('tunnel_locations')
        .where('cluster_id', '=', found.id)
        .where('session_id', '=', sessionId)
        .executeTakeFirst();
      if (gone.numDeletedRows > 0n)
        await tx
          .updateTable('clusters')
          .set({ connected: handedOver ? 1 : 0, last_seen_at: this.clock() })
          .where('id', '=', found.id)
          .execute();
    });
  }

  /**
   * For a replica that takes no peer requests (a lone controller): no other replica can serve a cluster for
   * it, so whatever the store says others hold is forgotten and their clusters shown disconnected until
   * their agents dial in. (Should another such replica share the store after all, it claims its tunnels
   * again at its next heartbeat.)
   */
  async forgetOthers(): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('tunnel_locations').where('replica_id', '!=', this.replicas.id).execute();
      await tx
        .updateTable('clusters')
        .set({ connected: 0 })
        .where('connected', '=', 1)
        .where('id', 'not in', tx.selectFrom('tunnel_locations').select('cluster_id'))
        .execute();
    });
  }

  /**
   * Forgets the tunnels of replicas that stopped (no fresh heartbeat, or no row at all) and marks their
   * clusters, and any cluster marked connected with no location (a hand-over no agent took up within
   * HANDOVER_MS), disconnected. Run at start and with each heartbeat, by every replica: the work is
   * idempotent.
   */
  async sweep(): Promise<void> {
    const staleBefore = this.replicas.staleBefore();
    await this.db.transaction().execute(async (tx) => {
      const live = tx.selectFrom('controller_replicas').select('id').where('heartbeat_at', '>=', staleBefore);
      await tx.deleteFrom('tunnel_locations').where('replica_id', 'not in', live).execute();
      await tx
        .updateTable('clusters')
        .set({ connected: 0 })
        .where('connected', '=', 1)
        .where('id', 'not in', tx.selectFrom('tunnel_locations').select('cluster_id'))
        .where((eb) =>
          eb.or([eb('last_seen_at', 'is', null), eb('last_seen_at', '<', this.clock() - HANDOVER_MS)]),
        )
        .execute();
      await tx
        .deleteFrom('controller_replicas')
        .where('heartbeat_at', '<', this.replicas.forgottenBefore())
        .execute();
    });
  }
}
