import type { AgentSession } from './session.js';

/** Which replica holds a cluster's tunnel, as the store says. */
export interface TunnelLocation {
  cluster: string;
  replicaId: string;
  /** The tunnel itself (AgentSession.id). */
  sessionId: string;
  jitNamespace: string;
  /** The holder's peer address; null if it takes no peer requests (or has left the directory). */
  peerUrl: string | null;
  /** Whether the holder's heartbeat is fresh. */
  live: boolean;
}

/** The holder's answer to "is this tunnel alive?"; `live` describes the tunnel for the contest's record. */
export interface ProbeAnswer {
  alive: boolean;
  live?: { remoteAddress: string; agentVersion: string; transport: string };
}

/**
 * A cluster's tunnel across replicas: who holds it, whether that one is alive, and taking it (only from the
 * tunnel found there, so two replicas cannot both win) or letting it go.
 */
export interface TunnelClaims {
  /** Where the store says the cluster's tunnel is, if anywhere. */
  holder(cluster: string): Promise<TunnelLocation | undefined>;
  isOwn(at: TunnelLocation): boolean;
  /**
   * Asks the holding replica to ping its tunnel; it closes the tunnel itself if there is no answer.
   * Undefined when there is no definite answer (the holder is slow or cannot be reached but may be alive):
   * the tunnel is then not taken.
   */
  probe(at: TunnelLocation, timeoutMs: number): Promise<ProbeAnswer | undefined>;
  /** Records `session` as the cluster's tunnel in place of `replacing` (null: none); false if beaten to it. */
  claim(session: AgentSession, replacing: string | null): Promise<boolean>;
  release(session: AgentSession): Promise<void>;
}
