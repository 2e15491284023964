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

/** The org every installation has; clusters and people belong to it unless another is named. */
export const DEFAULT_ORG = 'default';

/**
 * The longest a kube token (`/v1/tokens` for the CLI's exec-credential plugin, and the browser shell's own)
 * lives, and so the longest a watch, log stream or exec opened with one lasts (docs/security.md, "What
 * outlives a credential").
 */
export const MAX_KUBE_TOKEN_TTL_SECONDS = 15 * 60;
