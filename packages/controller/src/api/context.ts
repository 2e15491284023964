// What every route needs: the stores, the authenticated caller and their powers. Routes get one object of
// dependencies (no container); `caller()` authenticates once per request and remembers the result.
import type { FastifyRequest } from 'fastify';
import { ZtkaError } from '@ztka/protocol';
import type { Access } from '../access/authorize.js';
import type { ApiPowers } from '../access/effective.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { CredentialStore, Principal } from '../auth/credentials.js';
import type { LoginThrottle } from '../auth/login-throttle.js';
import type { TotpStore } from '../auth/totp.js';
import type { RequestLimits } from '../access/request-limits.js';
import type { AuditLog } from '../audit/log.js';
import type { AuditQuery } from '../audit/query.js';
import type { AuditCheckpoints } from '../audit/checkpoints.js';
import type { SystemEvents } from '../audit/system-events.js';
import type { BootstrapTokens } from '../clusters/bootstrap-tokens.js';
import type { ClusterStore } from '../clusters/clusters.js';
import type { ChangeFeed } from '../org/changes.js';
import type { GroupDirectory } from '../org/groups.js';
import type { ProjectStore } from '../org/projects.js';
import type { RoleAssignments } from '../org/role-assignments.js';
import type { SettingsStore } from '../org/settings.js';
import type { UserDirectory } from '../org/users.js';
import type { SecretBox } from '../store/sealed.js';
import type { TunnelRegistry } from '../tunnel/session.js';

export interface ApiDeps {
  /** The org of requests made before anyone is known (failed logins, agent registration). */
  defaultOrgId: string;
  publicUrl: string;
  caCertPem: string;
  agentImage: string;
  /** Lifetime of kube tokens from /v1/tokens; at most 15 minutes. */
  kubeTokenTtlMs: number;
  clusters: ClusterStore;
  bootstrapTokens: BootstrapTokens;
  changes: ChangeFeed;
  tunnels: TunnelRegistry;
  users: UserDirectory;
  groups: GroupDirectory;
  projects: ProjectStore;
  roles: RoleAssignments;
  settings: SettingsStore;
  credentials: CredentialStore;
  /** People's TOTP second factors. */
  totp: TotpStore;
  authenticator: Authenticator;
  access: Access;
  throttle: LoginThrottle;
  /** Rate limits per person and, for requests without a valid credential, per address. */
  limits: Pick<RequestLimits, 'person' | 'anonymous'>;
  events: SystemEvents;
  audit: AuditLog;
  /** Revocations still being delivered to agents. */
  revocations: { idle(): Promise<void> };
  auditQuery: AuditQuery;
  auditCheckpoints: AuditCheckpoints;
  /** Seals the secrets the controller must reuse (client secrets, refresh tokens, TOTP seeds). */
  secretBox: SecretBox;
}

export interface Caller {
  principal: Principal;
  powers: ApiPowers;
}

const callers = new WeakMap<FastifyRequest, Caller>();

/** The authenticated caller of a REST request (401/403 ZtkaError otherwise). */
export async function caller(deps: ApiDeps, req: FastifyRequest): Promise<Caller> {
  const known = callers.get(req);
  if (known) return known;
  let principal: Principal;
  try {
    principal = await deps.authenticator.forApi(req.method, req.headers);
  } catch (err) {
    // A refusal costs its sender: past the address's limit the answer is 429, not another check.
    if (err instanceof ZtkaError && err.code === 'unauthorized') await deps.limits.anonymous(req.ip);
    throw err;
  }
  await deps.limits.person(principal.userId);
  const result = { principal, powers: await deps.access.powers(principal) };
  callers.set(req, result);
  return result;
}

export async function requireOrgAdmin(deps: ApiDeps, req: FastifyRequest): Promise<Caller> {
  const c = await caller(deps, req);
  if (!c.powers.orgAdmin) throw new ZtkaError('forbidden', 'only an org ADMIN may do this');
  return c;
}

export async function requireOrgReader(deps: ApiDeps, req: FastifyRequest): Promise<Caller> {
  const c = await caller(deps, req);
  if (!c.powers.orgReader)
    throw new ZtkaError('forbidden', 'only an org ADMIN or ADMIN_READ_ONLY may see this');
  return c;
}

/** Records a system event for an action the caller took. */
export function recordAction(
  deps: ApiDeps,
  req: FastifyRequest,
  c: Caller,
  kind: string,
  detail: Record<string, unknown>,
): Promise<void> {
  return deps.events.record({
    kind,
    orgId: c.principal.orgId,
    actor: c.principal.username,
    sourceIp: req.ip,
    detail,
  });
}
