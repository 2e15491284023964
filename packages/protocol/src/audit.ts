// The audit trail's records as the API serves them, and the filters its queries take: one definition for the
// controller that writes and reads them, and the console and CLI that show them.

export interface ObjectRef {
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** One proxied kube API request, with the fields of an audit.k8s.io/v1 Event and ztka's own. */
export interface ApiRecord {
  kind: 'api';
  /** The controller's audit id, also sent to the cluster as `Audit-ID`. */
  id: string;
  /**
   * As in audit.k8s.io: `RequestReceived` is committed before a request that may change the cluster is
   * forwarded, `ResponseStarted` before a long-running one (watch, logs -f, exec …) is, and
   * `ResponseComplete` when the answer ends. The stages of one request share its `id`; a `RequestReceived`
   * without a later stage is a request whose end the controller did not live to record.
   */
  stage: 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete';
  /** Epoch ms the request arrived. */
  at: number;
  /** Epoch ms the response ended (ResponseComplete only). */
  endedAt?: number;
  /** The person (null when the credential was missing or invalid). */
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
  sourceIPs: string[];
  userAgent?: string;
  /** HTTP status given to the client (101 for an upgrade); 0 if none was. */
  status: number;
  /** Why ztka refused or failed the request. */
  reason?: string;
  bytes?: number;
  durationMs?: number;
  /**
   * A summary of this many requests refused before anyone was authenticated, from `sourceIPs[0]` between
   * `at` and `endedAt`: they are counted, not recorded one by one (the first of each interval is).
   */
  repeated?: number;
  /** exec and attach: the command and container. */
  command?: string[];
  container?: string;
}

/** One command line, as the browser shell (or any client of the commands API) ran it. */
export interface CommandRecord {
  kind: 'command';
  id: string;
  at: number;
  user: string;
  project?: string;
  cluster: string;
  channel: string;
  sessionId?: string;
  command: string;
  /** Why the browser shell's policy refused the line; absent for a line that was run. */
  refused?: string;
}

/** Logins, logouts, credential issue, administrative changes, agent connects. */
export interface SystemRecord {
  kind: 'system';
  id: string;
  at: number;
  event: string;
  user: string | null;
  sourceIp?: string;
  detail: Record<string, unknown>;
}

export type AuditRecord = ApiRecord | CommandRecord | SystemRecord;

/**
 * The system events (`SystemRecord.event`) about agents and their tunnels. `refused`: a connection that
 * presented a valid agent credential was refused (no proof of its key, a replayed or stale proof, a credential
 * registered without a key, another cluster's identity); `detail.reason` says which, and a stolen credential
 * shows up here. `contested`: a connection arrived for a cluster whose tunnel was open; `detail.outcome` is
 * `refused` (the open tunnel answered a ping and keeps the cluster) or `replaced` (it did not).
 */
export const AGENT_EVENTS = {
  registered: 'agent_registered',
  connected: 'agent_connected',
  disconnected: 'agent_disconnected',
  refused: 'agent_refused',
  contested: 'agent_tunnel_contested',
} as const;

/**
 * The system events of single sign-on. `login` records the provider, the subject and the groups it gave;
 * `login_failed` why a login was refused (`detail.reason`, a stable word, and `detail.message`);
 * `groups_changed` a login or refresh that changed someone's memberships; `session_ended` a session the
 * provider no longer vouches for (its refresh was refused, the person left the allowed domains, or the
 * provider was removed), after which every credential the person held is revoked; `refresh_failed` a refresh
 * that could not reach the provider (the session lives on, at most to its maximum age).
 */
export const SSO_EVENTS = {
  login: 'sso_login',
  loginFailed: 'sso_login_failed',
  groupsChanged: 'sso_groups_changed',
  sessionEnded: 'sso_session_ended',
  refreshFailed: 'sso_refresh_failed',
  providerSaved: 'sso_provider_saved',
  providerDeleted: 'sso_provider_deleted',
} as const;

/**
 * A line of the Commands view: a command line from the browser shell, or one kubectl invocation (one
 * Kubectl-Session of one person) with the calls it made. A kubectl invocation's `command` is whatever its
 * client sent in `Kubectl-Command` (`clientReported`); what it did is in `operations`, which the server
 * derived from the requests themselves.
 */
export interface CommandView {
  source: 'shell' | 'kubectl';
  /** Epoch ms, as in every record. */
  at: number;
  user: string | null;
  cluster: string;
  channel: string;
  command: string;
  /**
   * True when `command` is the client's own claim (kubectl's `Kubectl-Command` header), which nothing
   * checks; false when the server read the line itself (the browser shell, whose line editor it runs).
   */
  clientReported: boolean;
  sessionId?: string;
  kubectlSession?: string;
  /** A browser shell line its policy refused, and why: recorded, never run. */
  refused?: string;
  /** The requests the invocation made (each counted once, whatever its stages). */
  calls?: number;
  /** What the server saw it do: distinct `verb resource[/subresource]` of its calls, at most OPERATIONS_MAX. */
  operations?: string[];
}

/** The most distinct operations a Commands line lists. */
export const OPERATIONS_MAX = 20;

/**
 * The audit queries' text filters, each a query parameter of `/v1/audit/*` under the same name (docs/api.md,
 * "Audit records and filters"). `status` is '2xx', '4xx', '5xx' or an exact code; `q` is free text, matched
 * against the request URI, command line or event. Times (`since`, `until`, `last`) are apart.
 */
export const AUDIT_FILTERS = [
  'project',
  'cluster',
  'user',
  'namespace',
  'resource',
  'verb',
  'status',
  'channel',
  'q',
  'session',
  'kubectlSession',
] as const;
export type AuditFilterName = (typeof AUDIT_FILTERS)[number];

/**
 * A signed statement of where an org's audit chain stood, kept outside the database (the controller's
 * checkpoint file, the webhook, an admin's copy) so that a rewrite of the database can be told apart from the
 * trail the controller wrote. `head`: record `seq` had hash `hash`. `prune`: records before `seq` were
 * pruned and record `seq` links to `hash`. Signed with the controller's audit key (Ed25519), which the
 * database never holds; `keyId` names that key.
 */
export interface AuditCheckpoint {
  type: 'head' | 'prune';
  org: string;
  seq: number;
  hash: string;
  /** Epoch ms when it was signed. */
  at: number;
  keyId: string;
  /** base64url Ed25519 signature of the checkpoint's other fields. */
  signature: string;
}

/** What a check of the chain found wrong first. */
export type AuditVerifyProblem = 'modified' | 'deleted' | 'reordered' | 'truncated' | 'checkpoint';

/** The answer of `/v1/audit/verify`: whether an org's chain holds, and where it broke first if not. */
export interface AuditVerification {
  ok: boolean;
  checked: number;
  /** The signed head checkpoint the chain was checked against, if any. */
  anchor?: { seq: number; at: number };
  /** `id` is absent where no record is to blame (a missing tail, a checkpoint that is not genuine). */
  firstBad?: { seq: number; id?: string; problem: AuditVerifyProblem; message: string };
}
