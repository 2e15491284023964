// What the agents' endpoint asks of the cluster records: an agent's credential and its key-proof nonces
// (agent-credentials.ts), and what its agent reports (clusters.ts).
import type { AgentDirectory } from '../tunnel/accept.js';
import type { AgentCredentials } from './agent-credentials.js';
import type { ClusterStore } from './clusters.js';

export function agentDirectory(credentials: AgentCredentials, clusters: ClusterStore): AgentDirectory {
  return {
    authenticateAgent: (credential) => credentials.authenticateAgent(credential),
    consumeAgentProof: (id, nonce, expiresAt) => credentials.consumeAgentProof(id, nonce, expiresAt),
    recordAgent: (cluster, info) => clusters.recordAgent(cluster, info),
    markSeen: (cluster) => clusters.markSeen(cluster),
  };
}
