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
    return new PeerRoute(at, this.peers.session(at.replicaId, at.peerUrl));
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

  probe(at: TunnelLocation, timeoutMs: number): Promise<ProbeAnswer> {
    if (!this.peers || !at.live) return Promise.resolve({ alive: false });
    return this.peers.probe(at, timeoutMs);
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
