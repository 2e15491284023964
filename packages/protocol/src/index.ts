export {
  AGENT_NAME,
  CLUSTER_PROXY_PREFIX,
  DEFAULT_ORG,
  MAX_KUBE_TOKEN_TTL_SECONDS,
  SYSTEM_NAMESPACE,
} from './constants.js';
export { PRODUCT_VERSION } from './version.js';
export * from './tunnel.js';
export * from './session-streams.js';
export * from './agent-proof.js';
export {
  ERROR_CODES,
  ZtkaError,
  apiErrorBody,
  kubeStatus,
  type ApiErrorBody,
  type ErrorCode,
  type KubeStatus,
  type TotpEnrolmentGrant,
} from './errors.js';
export * from './totp.js';
export * from './roles.js';
export {
  KubeRequestError,
  MAX_KUBE_PATH_LENGTH,
  fieldSelectorValue,
  parseKubeRequest,
  parseKubeTarget,
  type KubeNonResourceVerb,
  type KubeRequest,
  type KubeResourceVerb,
  type KubeVerb,
} from './kube-request.js';
export {
  KUBE_REQUEST_HEADER,
  agreesWithKubeRequestHeader,
  encodeKubeRequestHeader,
} from './kube-request-header.js';
export { forwardableHeaders } from './headers.js';
export { protectedNamespaceReached, protectedNamespaces } from './jit-namespace.js';
export * from './rbac.js';
export * from './pod-security.js';
export * from './org-settings.js';
export { RELAY_LIMIT, relay } from './relay.js';
export * from './audit.js';
export * from './sso.js';
export { ssoConfirmationWords } from './sso-confirmation.js';
export {
  DURATION_FORMS,
  DURATION_PATTERN,
  DURATION_UNITS,
  formatDuration,
  parseDuration,
} from './duration.js';
export * from './shell-frames.js';
export { DNS_LABEL_BODY, DNS_LABEL_MAX, DNS_LABEL_PATTERN, isDnsLabel } from './names.js';
