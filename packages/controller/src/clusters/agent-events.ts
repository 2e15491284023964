// What agents do (register, connect, go, are refused, contest a tunnel) is recorded as system events of
// their cluster's org; an event about a cluster that is gone goes to the default org.
import type { Logger } from 'pino';
import { AGENT_EVENTS } from '@ztka/protocol';
import type { Access } from '../access/authorize.js';
import type { SystemEvents } from '../audit/system-events.js';
import type { AgentEventRecorder } from '../tunnel/alerts.js';
import type { TunnelRegistry } from '../tunnel/session.js';

/**
 * Records every tunnel's opening and closing on this replica, and returns the recorder for the rest (the
 * tunnel endpoint's refusals and contests).
 */
export function recordAgentEvents(deps: {
  access: Pick<Access, 'clusterScope'>;
  events: Pick<SystemEvents, 'record'>;
  tunnels: Pick<TunnelRegistry, 'onAdd'>;
  defaultOrgId: string;
  log: Logger;
}): AgentEventRecorder {
  const record: AgentEventRecorder = async (kind, cluster, sourceIp, detail) => {
    const scope = await deps.access.clusterScope(cluster);
    await deps.events.record({
      kind,
      orgId: scope?.orgId ?? deps.defaultOrgId,
      sourceIp,
      detail: { cluster, ...detail },
    });
  };
  deps.tunnels.onAdd((session) => {
    const { cluster, agentVersion, kubeVersion, remoteAddress } = session.info;
    const failed = (err: unknown) => deps.log.warn({ err }, 'could not record an agent event');
    record(AGENT_EVENTS.connected, cluster, remoteAddress, { agentVersion, kubeVersion }).catch(failed);
    session.onClose(() => void record(AGENT_EVENTS.disconnected, cluster, remoteAddress, {}).catch(failed));
  });
  return record;
}
