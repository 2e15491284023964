// What the agents' endpoint reports besides its answer, for operators to alert on: every connection refused
// although it held a valid agent credential (a credential copied without its key, a replayed or stale proof,
// a credential registered before agents held keys, a credential used from another cluster), and every
// connection that found its cluster's tunnel open. Each is counted in a metric and recorded as a system
// event. Within an interval, the first of each kind per cluster is recorded in full and the rest are counted
// into one event at the interval's end: whoever holds a stolen credential can retry as fast as they like
// without flooding the audit trail, and no occurrence goes unrecorded.
import type { Logger } from 'pino';
import { AGENT_EVENTS } from '@ztka/protocol';
import type { Metrics } from '../observability/metrics.js';
import type { AgentInfo } from './session.js';

/** Why a connection with a valid credential was refused (the `reason` of metric and event). */
export type AgentRefusal = 'key_proof' | 'replay' | 'clock' | 'no_key' | 'identity';

/** What a contest came to: the open tunnel kept its cluster, or it no longer answered and was replaced. */
export type ContestOutcome = 'refused' | 'replaced';

/** Records one system event about a cluster's agent, in the cluster's org (`detail` gains `cluster`). */
export type AgentEventRecorder = (
  kind: string,
  cluster: string,
  sourceIp: string,
  detail: Record<string, unknown>,
) => Promise<void>;

/** How often repeats are summed up into one event. */
export const ALERT_INTERVAL_MS = 60_000;

interface Pending {
  kind: string;
  cluster: string;
  /** The latest occurrence's, for the summary. */
  sourceIp: string;
  detail: Record<string, unknown>;
  repeated: number;
}

export class AgentAlerts {
  readonly #pending = new Map<string, Pending>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly deps: {
      record: AgentEventRecorder;
      metrics: Pick<Metrics, 'agentRefusals' | 'agentContests'>;
      log: Logger;
    },
    intervalMs = ALERT_INTERVAL_MS,
  ) {
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  /** A connection without a valid credential: counted only, since it names no cluster and costs nothing. */
  unauthenticated(): void {
    this.deps.metrics.agentRefusals.inc({ reason: 'credential' });
  }

  /** A connection with cluster `cluster`'s valid credential, refused for `reason`. */
  refused(cluster: string, reason: AgentRefusal, sourceIp: string, detail: Record<string, unknown>): void {
    this.deps.metrics.agentRefusals.inc({ reason });
    this.#note(AGENT_EVENTS.refused, cluster, reason, sourceIp, { reason, ...detail });
  }

  /** A connection (`newcomer`) that arrived while `live` was the cluster's tunnel. */
  contested(
    outcome: ContestOutcome,
    live: AgentInfo,
    newcomer: { remoteAddress: string; agentVersion: string },
  ): void {
    const cluster = live.cluster;
    this.deps.metrics.agentContests.inc({ cluster, outcome });
    this.#note(AGENT_EVENTS.contested, cluster, outcome, newcomer.remoteAddress, {
      outcome,
      live: { remoteAddress: live.remoteAddress, agentVersion: live.agentVersion, transport: live.transport },
      newcomer,
    });
  }

  #note(
    kind: string,
    cluster: string,
    variant: string,
    sourceIp: string,
    detail: Record<string, unknown>,
  ): void {
    const key = JSON.stringify([kind, cluster, variant]);
    const pending = this.#pending.get(key);
    if (pending) {
      pending.repeated++;
      pending.sourceIp = sourceIp;
      pending.detail = detail;
      return;
    }
    this.#pending.set(key, { kind, cluster, sourceIp, detail, repeated: 0 });
    void this.#record(kind, cluster, sourceIp, detail);
  }

  #record(kind: string, cluster: string, sourceIp: string, detail: Record<string, unknown>): Promise<void> {
    return this.deps
      .record(kind, cluster, sourceIp, detail)
      .catch((err: unknown) => this.deps.log.warn({ err, kind, cluster }, 'could not record an agent event'));
  }

  /** Records one event for each kind that repeated in the interval, and starts the next. */
  async flush(): Promise<void> {
    const repeated = [...this.#pending.values()].filter((p) => p.repeated > 0);
    this.#pending.clear();
    await Promise.all(
      repeated.map((p) => this.#record(p.kind, p.cluster, p.sourceIp, { ...p.detail, repeated: p.repeated })),
    );
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    return this.flush();
  }
}
