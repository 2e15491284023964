// Where a cluster's tunnel is, seen from this replica: here (the tunnel registry), at another live replica
// (the store's tunnel locations, reached through the peer hop), or nowhere. The agents' endpoint asks it
// whether a cluster is free for a new connection; the kube proxy asks it for the route of each request.
import type { Logger } from 'pino';
import type { ChangeFeed } from '../org/changes.js';
import type { ProbeAnswer, TunnelClaims, TunnelLocation } from '../tunnel/claims.js';
import { LocalRoute, type TunnelRoute } from '../tunnel/route.js';
import type { AgentSession, TunnelRegistry } from '../tunnel/session.js';
import { PeerRoute, type PeerClients } from './client.js';
import type { TunnelLocations } from './locations.js';

/** How old a tunnel must be before reconciliation judges it: younger ones are still being claimed. */
const RECONCILE_AFTER_MS = 5000;

export class TunnelRouter implements TunnelClaims {
  readonly #releasing = new Set<Promise<void>>();
  #handingOver = false;

  constructor(
    private readonly tunnels: TunnelRegistry,
    private readonly locations: TunnelLocations,
    /** Undefined when this replica takes no part in peering (a single replica). */
    private readonly peers: PeerClients | undefined,
    private readonly log: Logger,
  ) {}

  async route(cluster: string): Promise<TunnelRoute | undefined> {
    const local = this.tunnels.get(cluster);
    if (local) return new LocalRoute(local);
    if (!this.peers) return undefined;
    const at = await this.locations.find(cluster);
    if (!at || !at.live || !at.peerUrl || at.replicaId === this.locations.replicaId) return undefined;
    const h2 = this.peers.session(at.replicaId, at.peerUrl);
    return new PeerRoute(at, h2, this.peers.cancels(h2));
  }

  /** Whether a cluster with no route now is expected back within seconds (its agent redialling). */
  reconnecting(cluster: string): Promise<boolean> {
    return this.locations.reconnecting(cluster);
  }

  /**
   * From now on, tunnels that close are handed over (this replica is stopping), not lost. Only where there
   * are peers to take them: a lone controller's clusters are simply disconnected until it is back.
   */
  handOver(): void {
    this.#handingOver = this.peers !== undefined;
  }

  async holder(cluster: string): Promise<TunnelLocation | undefined> {
    return this.locations.find(cluster);
  }

  isOwn(at: TunnelLocation): boolean {
    return at.replicaId === this.locations.replicaId;
  }

  probe(at: TunnelLocation, timeoutMs: number): Promise<ProbeAnswer | undefined> {
    // A holder whose heartbeat stopped holds nothing; a lone controller's rows are its own past.
    if (!at.live || !this.peers) return Promise.resolve({ alive: false });
    // A live replica that takes no peer requests cannot be asked: its tunnel stays its own.
    if (!at.peerUrl) return Promise.resolve(undefined);
    // The holder pings for up to `timeoutMs`, and on a busy tunnel answers only then: wait past that.
    return this.peers.probe(at, 2 * timeoutMs + 1000);
  }

  async claim(session: AgentSession, replacing: string | null): Promise<boolean> {
    return this.locations.claim(
      session.info.cluster,
      { sessionId: session.id, jitNamespace: session.info.jitNamespace },
      replacing,
    );
  }

  release(session: AgentSession): Promise<void> {
    const done = this.locations.release(session.info.cluster, session.id, this.#handingOver);
    const tracked = done.catch(() => undefined).finally(() => this.#releasing.delete(tracked));
    this.#releasing.add(tracked);
    return done;
  }

  /**
   * Brings the store in line with the tunnels this replica holds, so that both never disagree for long: a
   * tunnel whose row was swept (this replica was cut off from the database longer than the staleness
   * allowed) is claimed again if nobody took the cluster meanwhile, and a tunnel whose cluster the store
   * gives to another tunnel is closed. Tunnels younger than a few seconds are still being claimed.
   */
  async reconcile(): Promise<void> {
    const settled = Date.now() - RECONCILE_AFTER_MS;
    // One query for the usual case, where the store agrees with every tunnel.
    const mine = await this.locations.mine();
    for (const session of this.tunnels.open()) {
      if (session.connectedAt > settled || mine.get(session.info.cluster) === session.id) continue;
      const at = await this.locations.find(session.info.cluster);
      if (at?.sessionId === session.id) continue;
      const reclaimed = at === undefined && (await this.claim(session, null));
      if (!reclaimed) session.close('the store gives its cluster to another tunnel');
    }
  }

  /** Resolves once every release begun so far is written (shutdown: before the store closes). */
  async settled(): Promise<void> {
    await Promise.all(this.#releasing);
  }

  /**
   * Closes the tunnels of clusters deleted on any replica (a cluster change arrives from every replica
   * through the change feed).
   */
  closeDeleted(changes: ChangeFeed, exists: (cluster: string) => Promise<boolean>): () => void {
    return changes.on((change) => {
      if (change.kind !== 'clusters') return;
      for (const session of this.tunnels.open())
        void exists(session.info.cluster).then(
          (still) => {
            if (!still) session.close('cluster deleted');
          },
          (err: unknown) => this.log.warn({ err }, 'could not check a tunnel’s cluster'),
        );
    });
  }
}
