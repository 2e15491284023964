import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The controller's Prometheus metrics, one registry per server so tests can run several side by side. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ztka_controller_' });
  return {
    registry,
    proxyRequests: new Counter({
      name: 'ztka_proxy_requests_total',
      help: 'Kube API requests proxied, by cluster, verb and status code.',
      labelNames: ['cluster', 'verb', 'code'] as const,
      registers: [registry],
    }),
    proxyDuration: new Histogram({
      name: 'ztka_proxy_request_duration_seconds',
      help: 'Time from receiving a kube API request to the end of its response (long for watches and streams).',
      labelNames: ['cluster', 'verb'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300],
      registers: [registry],
    }),
    proxyBytes: new Counter({
      name: 'ztka_proxy_response_bytes_total',
      help: 'Bytes sent to clients from their clusters.',
      labelNames: ['cluster'] as const,
      registers: [registry],
    }),
    auditRecords: new Counter({
      name: 'ztka_audit_records_total',
      help: 'Audit records committed.',
      registers: [registry],
    }),
    auditCommits: new Counter({
      name: 'ztka_audit_commits_total',
      help: 'Transactions that committed audit records; records / commits is the group-commit batch size.',
      registers: [registry],
    }),
    agentRefusals: new Counter({
      name: 'ztka_agent_connections_refused_total',
      help:
        'Agent connections refused before a tunnel opened, by reason: credential (none, or not valid), and, ' +
        'with a valid credential, key_proof (no valid proof of the registered key), replay, clock (proof ' +
        'dated outside the window), no_key (credential registered without a key), identity (another cluster).',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    agentContests: new Counter({
      name: 'ztka_agent_tunnel_contests_total',
      help:
        'Connections for a cluster whose tunnel was open, by outcome: refused (the open tunnel answered a ' +
        'ping and kept the cluster) or replaced (it did not, and the new one took its place).',
      labelNames: ['cluster', 'outcome'] as const,
      registers: [registry],
    }),
    connectedAgents: new Gauge({
      name: 'ztka_connected_agents',
      help: 'Agents with a tunnel open to this controller.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Counts a proxied request once it has ended: by cluster, verb and status, its duration and its bytes. */
export function observeProxied(
  metrics: Pick<Metrics, 'proxyRequests' | 'proxyDuration' | 'proxyBytes'>,
): (
  request: { cluster: string; kube: { verb: string } },
  outcome: { status: number; durationMs: number; bytesOut: number },
) => void {
  return ({ cluster, kube: { verb } }, outcome) => {
    metrics.proxyRequests.inc({ cluster, verb, code: String(outcome.status) });
    metrics.proxyDuration.observe({ cluster, verb }, outcome.durationMs / 1000);
    metrics.proxyBytes.inc({ cluster }, outcome.bytesOut);
  };
}
