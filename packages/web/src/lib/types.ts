// The shapes the console reads from the REST API (docs/api.md). Only what the console uses is named.

export const ROLES = [
  'ADMIN',
  'ADMIN_READ_ONLY',
  'PROJECT_ADMIN',
  'PROJECT_READ_ONLY',
  'NAMESPACE_ADMIN',
  'NAMESPACE_READ_ONLY',
] as const;
export type Role = (typeof ROLES)[number];

/** Org-wide roles take no project; namespace roles also take namespaces. */
export const ORG_ROLES: ReadonlySet<Role> = new Set<Role>(['ADMIN', 'ADMIN_READ_ONLY']);
export const NAMESPACE_ROLES: ReadonlySet<Role> = new Set<Role>(['NAMESPACE_ADMIN', 'NAMESPACE_READ_ONLY']);

export interface RoleAssignment {
  id: string;
  role: Role;
  user?: string;
  group?: string;
  project?: string;
  namespaces?: string[];
}

export interface WhoAmI {
  username: string;
  org: string;
  groups?: string[];
  roles: RoleAssignment[];
  credential?: { id: string; kind: string };
}

export interface LoginResult {
  user: string;
  csrfToken: string;
  expiresAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface Project {
  name: string;
  clusters: number;
  createdAt: string;
}

export interface Cluster {
  name: string;
  project: string;
  connected: boolean;
  lastSeenAt: string | null;
  agentVersion: string | null;
  kubeVersion: string | null;
  createdAt: string;
}

export interface CreatedCluster {
  cluster: Cluster;
  bootstrapToken: string;
  manifestUrl: string;
}

export interface User {
  username: string;
  disabled: boolean;
  createdAt: string;
  groups: string[];
}

export interface Group {
  name: string;
  members: string[];
  createdAt: string;
}

export interface Settings {
  kubeconfigValiditySeconds: number;
  saLifetimeSeconds: number;
  webKubectl: boolean;
  cliKubectl: boolean;
}

export interface ObjectRef {
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** One proxied kube API request; times are epoch milliseconds. */
export interface ApiRecord {
  kind: 'api';
  id: string;
  seq: number;
  stage: string;
  at: number;
  endedAt?: number;
  user: string | null;
  role?: string;
  project?: string;
  cluster: string;
  channel?: string;
  sessionId?: string;
  kubectlCommand?: string;
  kubectlSession?: string;
  method: string;
  requestURI: string;
  verb: string;
  objectRef?: ObjectRef;
  sourceIPs?: string[];
  userAgent?: string;
  status: number;
  reason?: string;
  bytes?: number;
  durationMs?: number;
  command?: string[];
  container?: string;
}

/** A command line from the browser shell, or one kubectl invocation with the calls it made. */
export interface CommandEntry {
  source: 'shell' | 'kubectl';
  at: string | number;
  user: string | null;
  cluster: string;
  channel: string;
  command: string;
  sessionId?: string;
  kubectlSession?: string;
  calls?: number;
}

export interface SystemRecord {
  kind: 'system';
  id: string;
  seq: number;
  at: number;
  event: string;
  user: string | null;
  sourceIp?: string;
  detail?: Record<string, unknown>;
}
