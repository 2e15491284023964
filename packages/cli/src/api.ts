// The shapes of the controller's answers, as docs/api.md describes them (the audit trail's are
// @ztka/protocol's own). Fields the contract leaves open are optional: tables show `-` for what a server does
// not send, and JSON/YAML output passes it all through.
import type { NamespacePodSecurity } from '@ztka/protocol';

export interface RoleAssignment {
  id: string | number;
  role: string;
  user?: string;
  group?: string;
  project?: string;
  namespaces?: string[];
}

export interface Whoami {
  username: string;
  org?: string;
  roles?: RoleAssignment[];
  credential?: { id?: string | number; kind?: string };
  totp?: TotpState;
}

/** A person's TOTP second factor. */
export type TotpState = 'off' | 'pending' | 'on';

/** `POST /v1/auth/totp`: the seed, for an authenticator app, until a code confirms it. */
export interface TotpEnrolment {
  secret: string;
  uri: string;
}

export interface LoginAnswer {
  /** The stored (lowercased) username; the contract does not fix its form, so an object is read too. */
  user?: string | { username?: string };
  apiKey: { id: string | number; key: string; expiresAt?: string };
}

export interface Project {
  name: string;
  clusters?: number;
  createdAt?: string;
}

export interface Cluster {
  name: string;
  project?: string;
  connected?: boolean;
  lastSeenAt?: string | null;
  agentVersion?: string | null;
  kubeVersion?: string | null;
  createdAt?: string;
}

export interface CreatedCluster {
  cluster?: Cluster;
  /** The contract leaves the form open: a token string or `{token, expiresAt}`. */
  bootstrapToken?: string | { token?: string; expiresAt?: string };
  manifestUrl?: string;
}

export interface User {
  username: string;
  disabled?: boolean;
  hasPassword?: boolean;
  totp?: TotpState;
  createdAt?: string;
  groups?: string[];
}

export interface Group {
  name: string;
  members?: string[];
  createdAt?: string;
}

export interface Credential {
  id: string | number;
  kind?: string;
  name?: string;
  channel?: string | null;
  createdAt?: string;
  expiresAt?: string | null;
  lastUsedAt?: string | null;
}

export interface ApiKey {
  id: string | number;
  key: string;
  expiresAt?: string | null;
}

export interface KubeToken {
  token: string;
  expiresAt: string;
}

export interface Settings {
  kubeconfigValiditySeconds?: number;
  saLifetimeSeconds?: number;
  webKubectl?: boolean;
  cliKubectl?: boolean;
  namespacePodSecurity?: NamespacePodSecurity;
  requireTotp?: boolean;
  ssoOnly?: boolean;
  breakGlassUser?: string;
}

/** `NAMESPACE_ADMIN project=desktop namespaces=team-a,team-b`, one assignment per line. */
export function describeAssignment(a: Omit<RoleAssignment, 'id'>): string {
  const parts = [a.role];
  if (a.project !== undefined) parts.push(`project=${a.project}`);
  if (a.namespaces !== undefined && a.namespaces.length > 0)
    parts.push(`namespaces=${a.namespaces.join(',')}`);
  if (a.group !== undefined) parts.push(`group=${a.group}`);
  return parts.join(' ');
}
