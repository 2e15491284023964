// Table types for the controller's relational store, shared by every dialect (SQLite today, PostgreSQL next).
//
// Conventions, chosen so that the same Kysely code runs unchanged on SQLite and PostgreSQL:
// - Timestamps are integer milliseconds since the Unix epoch (UTC), column type `bigint`. Comparisons such as
//   "expires_at > now" are then plain integer comparisons on every dialect, with no date functions involved.
//   (node-postgres returns `bigint` as a string by default; the pg dialect must install an int8 type parser
//   that yields numbers, which is exact for any epoch-ms value.)
// - Booleans are integers 0/1 (column type `integer`).
// - Ids are text: random UUIDs for entities, and the short random id embedded in tokens for token rows.
// - Secrets are never stored, only their SHA-256 hex digest (see secrets.ts).

/** Integer milliseconds since the Unix epoch, UTC. */
export type EpochMs = number;

/** 0 = false, 1 = true. */
export type IntBool = 0 | 1;

export interface OrgsTable {
  id: string;
  name: string;
  created_at: EpochMs;
}

export interface ProjectsTable {
  id: string;
  org_id: string;
  name: string;
  created_at: EpochMs;
}

export interface ClustersTable {
  id: string;
  project_id: string;
  /** DNS-1123 label, unique across the whole controller. */
  name: string;
  created_at: EpochMs;
  /** UID of the cluster's kube-system namespace; null until the first bootstrap token exchange binds it. */
  identity: string | null;
  agent_version: string | null;
  kube_version: string | null;
  last_seen_at: EpochMs | null;
  connected: IntBool;
}

export interface BootstrapTokensTable {
  /** The lookup id embedded in the token (`<prefix>_<id>.<secret>`). */
  id: string;
  cluster_id: string;
  /** SHA-256 hex of the token's secret part. */
  token_hash: string;
  expires_at: EpochMs;
  /** Set, atomically, by the single successful exchange. */
  used_at: EpochMs | null;
  created_at: EpochMs;
}

export interface AgentCredentialsTable {
  /** The lookup id embedded in the credential (`<prefix>_<id>.<secret>`). */
  id: string;
  cluster_id: string;
  /** SHA-256 hex of the credential's secret part. */
  secret_hash: string;
  created_at: EpochMs;
  revoked_at: EpochMs | null;
}

export interface Database {
  orgs: OrgsTable;
  projects: ProjectsTable;
  clusters: ClustersTable;
  bootstrap_tokens: BootstrapTokensTable;
  agent_credentials: AgentCredentialsTable;
}
