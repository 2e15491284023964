/** Namespace that holds the agent and the just-in-time service accounts in every managed cluster. */
export const SYSTEM_NAMESPACE = 'ztka-system';

/** The agent's own ServiceAccount, Secret, roles and Deployment (the bootstrap manifest). */
export const AGENT_NAME = 'ztka-agent';

/**
 * Path prefix under which the controller serves each cluster's kube API
 * (`/k8s/clusters/<cluster>/api/v1/...`): a prefix rather than a host name, so neither wildcard DNS nor
 * TLS passthrough is needed in front of the controller.
 */
export const CLUSTER_PROXY_PREFIX = '/k8s/clusters/';
