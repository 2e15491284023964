export { CLUSTER_PROXY_PREFIX, SYSTEM_NAMESPACE } from './constants.js';
export { PRODUCT_VERSION } from './version.js';
