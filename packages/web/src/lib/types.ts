// The shapes the console reads from the REST API (docs/api.md). Only what the console uses is named; the
// audit records are the controller's own types, from @ztka/protocol.
import type {
  ApiRecord as AuditApiRecord,
  CommandView,
  SystemRecord as AuditSystemRecord,
} from '@ztka/protocol/audit';
import type { OrgSettings } from '@ztka/protocol/org-settings';
import type { Role } from '@ztka/protocol/roles';

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
  totp?: TotpState;
}

/** A person's TOTP second factor. */
export type TotpState = 'off' | 'pending' | 'on';

/** `POST /v1/auth/totp`: the seed for an authenticator app, pending until a code confirms it. */
export interface TotpEnrolment {
  secret: string;
  uri: string;
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
  totp?: TotpState;
  createdAt: string;
  groups: string[];
}

export interface Group {
  name: string;
  members: string[];
  createdAt: string;
}

/** An org's settings, as `GET /v1/settings` serves them. */
export type Settings = OrgSettings;

/** One proxied kube API request as a page of the trail lists it; times are epoch milliseconds. */
export type ApiRecord = AuditApiRecord & { seq: number };

/** A line of the Commands view. */
export type CommandEntry = CommandView;

export type SystemRecord = AuditSystemRecord & { seq: number };
