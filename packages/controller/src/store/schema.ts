// Table types for the controller's relational store, shared by every dialect (SQLite today, PostgreSQL next).
//
// Conventions, chosen so that the same Kysely code runs unchanged on SQLite and PostgreSQL:
// - Timestamps are integer milliseconds since the Unix epoch (UTC), column type `bigint`. Comparisons such as
//   "expires_at > now" are then plain integer comparisons on every dialect, with no date functions involved.
//   (node-postgres returns `bigint` as a string by default; the pg dialect must install an int8 type parser
//   that yields numbers, which is exact for any epoch-ms value.)
// - Booleans are integers 0/1 (column type `integer`).
// - Ids are text: random UUIDs for entities, and the short random id embedded in tokens for token rows.
// - Secrets people present are never stored, only their SHA-256 hex digest (see secrets.ts); secrets the
//   controller must use again (TOTP seeds) are stored sealed (see sealed.ts).

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
  /** Where the agent keeps people's service accounts, as it last reported; null until it first connects. */
  jit_namespace: string | null;
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
  /**
   * The agent's own Ed25519 public key (SPKI DER, base64url), sent at registration; the private half never
   * leaves the agent. Null for a credential issued before agents held keys: such a credential is refused.
   */
  public_key: string | null;
}

/** Nonces of accepted agent key proofs, kept until the proof is too old to be accepted again. */
export interface AgentProofNoncesTable {
  credential_id: string;
  nonce: string;
  expires_at: EpochMs;
}

export interface UsersTable {
  id: string;
  org_id: string;
  /** Lowercased; unique across the controller so a login needs no org. */
  username: string;
  /** scrypt hash (auth/passwords.ts); null until a password is set. */
  password_hash: string | null;
  disabled_at: EpochMs | null;
  created_at: EpochMs;
}

export interface GroupsTable {
  id: string;
  org_id: string;
  name: string;
  created_at: EpochMs;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
  /** Null for a membership an admin made; the SSO provider's id for one its groups claim gave. */
  source: string | null;
}

/** An OpenID Provider people of an org log in with. */
export interface SsoProvidersTable {
  id: string;
  org_id: string;
  /** DNS-1123 label, unique across the controller: it names the provider in URLs and on the login page. */
  name: string;
  display_name: string;
  issuer: string;
  client_id: string;
  /** Sealed (store/sealed.ts), context `oidc-client-secret:<id>`. */
  client_secret: string;
  /** Space-separated. */
  scopes: string;
  username_claim: string;
  email_claim: string;
  groups_claim: string;
  /** Comma-separated lowercase domains; '' allows any. */
  allowed_domains: string;
  /** JSON object: provider group → ztka group. */
  group_mapping: string;
  /** Whether a provider group also maps to the ztka group of the same name. */
  groups_by_name: IntBool;
  /** A CA to trust for this issuer only, beyond the system's. */
  ca_pem: string | null;
  max_session_s: number;
  /** Whether the device flow may be started (it can be phished: off unless an admin turns it on). */
  device_flow: IntBool;
  created_at: EpochMs;
  updated_at: EpochMs;
}

/** A person's link to a provider: who they are there, the groups it last gave, and their session's deadline. */
export interface SsoIdentitiesTable {
  id: string;
  provider_id: string;
  /** The issuer the subject is unique at (OIDC Core 5.7): a provider moved to another issuer links nobody. */
  issuer: string;
  subject: string;
  user_id: string;
  email: string | null;
  /** JSON array: the provider's groups at the last login or refresh. */
  groups: string;
  /** Sealed, context `oidc-refresh-token:<id>`; null when the provider gave none. */
  refresh_token: string | null;
  login_at: EpochMs;
  refreshed_at: EpochMs;
  /** Every credential issued to the person ends by then: the maximum session age from the login. */
  session_expires_at: EpochMs;
}

/** A login in progress: created at its start, consumed once by its callback, then (CLI) by its hand-off. */
export interface SsoLoginsTable {
  id: string;
  /** SHA-256 hex of the `state` sent to the provider. */
  state_hash: string;
  provider_id: string;
  /** SHA-256 hex of the secret in the browser's login cookie: the callback must come from the same browser. */
  browser_hash: string;
  nonce: string;
  /** Sealed PKCE verifier, context `oidc-pkce:<id>`. */
  code_verifier: string;
  client: 'console' | 'cli';
  /** The CLI's loopback URL the browser is sent back to. */
  cli_redirect: string | null;
  /** The CLI's own PKCE challenge (S256) for the hand-off code. */
  cli_challenge: string | null;
  created_at: EpochMs;
  expires_at: EpochMs;
  used_at: EpochMs | null;
  /** SHA-256 hex of the one-time code handed to the CLI. */
  handoff_hash: string | null;
  handoff_user_id: string | null;
  handoff_expires_at: EpochMs | null;
  handoff_used_at: EpochMs | null;
}

export interface RoleAssignmentsTable {
  id: string;
  org_id: string;
  /** Exactly one of user_id and group_id is set. */
  user_id: string | null;
  group_id: string | null;
  role: string;
  /** Set for project and namespace roles, null for org-wide ones. */
  project_id: string | null;
  /** Comma-separated sorted namespaces for namespace roles, '' otherwise. */
  namespaces: string;
  created_at: EpochMs;
}

/** Every credential a person holds: console sessions, API keys, kubeconfig credentials and kube tokens. */
export interface CredentialsTable {
  /** The lookup id embedded in the token (`<prefix>_<id>.<secret>`). */
  id: string;
  user_id: string;
  kind: 'session' | 'api_key' | 'kubeconfig' | 'kube_token' | 'totp_enrolment';
  name: string;
  /** SHA-256 hex of the token's secret part. */
  secret_hash: string;
  /** Which way kubectl traffic made with it arrives: 'cli' or 'web-shell'; null for sessions and API keys. */
  channel: string | null;
  /** Kube tokens are bound to one cluster. */
  cluster_id: string | null;
  /** For a browser shell's kube token: the shell session, so its API calls and commands can be joined. */
  session_id: string | null;
  created_at: EpochMs;
  expires_at: EpochMs | null;
  last_used_at: EpochMs | null;
  revoked_at: EpochMs | null;
}

export interface OrgSettingsTable {
  org_id: string;
  kubeconfig_validity_s: number;
  sa_lifetime_s: number;
  web_kubectl: IntBool;
  cli_kubectl: IntBool;
  /** `off`, or the Pod Security level granted namespaces are labelled with (NAMESPACE_POD_SECURITY). */
  namespace_pod_security: string;
  /** Every password login must send a TOTP code; people not enrolled yet get only an enrolment token. */
  require_totp: IntBool;
  /** Password logins are refused, but for the break-glass user's. */
  sso_only: IntBool;
  /** The one user who may still log in with a password when sso_only is set; null when none. */
  break_glass_user_id: string | null;
  updated_at: EpochMs;
}

/** A person's TOTP: pending until a first code confirms it. */
export interface UserTotpTable {
  user_id: string;
  /** The base32 seed, sealed (store/sealed.ts) with context `totp:<user_id>`. */
  secret: string;
  /** When a code first confirmed it; null while the enrolment is pending. */
  confirmed_at: EpochMs | null;
  /** The time step of the last code accepted: a code of this step or an older one is refused. */
  last_step: number | null;
  created_at: EpochMs;
}

/**
 * The audit trail: API calls, commands and system events of an org, one hash chain per org. The indexed
 * columns are copies of fields of `body` (the canonical JSON of the whole record) for filtering; `hash`
 * covers `prev_hash`, `seq` and `body`, and verification checks the columns against the body too.
 */
export interface AuditRecordsTable {
  org_id: string;
  /** 1, 2, 3… per org, in commit order: a gap means a deletion. */
  seq: number;
  id: string;
  kind: 'api' | 'command' | 'system';
  /** When the request arrived, or the event happened. */
  at: EpochMs;
  stage: string;
  username: string | null;
  project: string | null;
  cluster: string | null;
  namespace: string | null;
  resource: string | null;
  verb: string | null;
  status: number | null;
  channel: string | null;
  session_id: string | null;
  kubectl_session: string | null;
  /** The request URI, the command line or the event kind: what free-text search looks at. */
  summary: string;
  body: string;
  prev_hash: string;
  hash: string;
}

/** Where a pruned chain continues: the hash the first remaining record of an org must link to. */
export interface AuditCheckpointsTable {
  org_id: string;
  /** The seq of the first record that remains. */
  seq: number;
  prev_hash: string;
  pruned_at: EpochMs;
  /** The audit key's id and its signature of the checkpoint (audit/signer.ts); the key is never here. */
  key_id: string | null;
  signature: string | null;
}

export interface ControllerReplicasTable {
  id: string;
  /** Where other replicas reach this one's peer listener; null if it takes no peers (a single replica). */
  peer_url: string | null;
  started_at: EpochMs;
  /** Written by the replica itself, on its own clock, every few seconds while it runs. */
  heartbeat_at: EpochMs;
}

export interface TunnelLocationsTable {
  cluster_id: string;
  replica_id: string;
  /** The tunnel itself: a replica holding a newer tunnel of the cluster answers for this one no more. */
  session_id: string;
  jit_namespace: string;
  connected_at: EpochMs;
}

export interface PeerAuthorityTable {
  id: string;
  cert_pem: string;
  /** The CA's private key, sealed with the secrets key that every replica shares. */
  key_sealed: string;
  created_at: EpochMs;
}

export interface Database {
  orgs: OrgsTable;
  projects: ProjectsTable;
  clusters: ClustersTable;
  bootstrap_tokens: BootstrapTokensTable;
  agent_credentials: AgentCredentialsTable;
  agent_proof_nonces: AgentProofNoncesTable;
  users: UsersTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  sso_providers: SsoProvidersTable;
  sso_identities: SsoIdentitiesTable;
  sso_logins: SsoLoginsTable;
  role_assignments: RoleAssignmentsTable;
  credentials: CredentialsTable;
  org_settings: OrgSettingsTable;
  user_totp: UserTotpTable;
  audit_records: AuditRecordsTable;
  audit_checkpoints: AuditCheckpointsTable;
  controller_replicas: ControllerReplicasTable;
  tunnel_locations: TunnelLocationsTable;
  peer_authority: PeerAuthorityTable;
}
