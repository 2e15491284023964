// The audit record of one proxied request, built from what the proxy learnt while resolving it: a
// request refused before it was known who asked still gets a record, with what is known.
import { ZtkaError, type KubeRequest } from '@ztka/protocol';
import type { ApiRecord } from '../audit/record.js';
import type { ProxyRequest } from './request.js';

/** Nothing is served that the trail does not hold: when the audit store fails, the request fails. */
export const auditUnavailable = (cause: unknown) =>
  new ZtkaError('internal', 'the audit trail is unavailable, so the request was not served', { cause });

/**
 * The most of each client-sent text a record keeps: enough for any real kubectl, little enough that a record
 * stays small whatever a client sends (the headers alone may be 64 KiB).
 */
export const RECORD_TEXT_MAX = {
  requestURI: 4096,
  /** Any text of a request nobody was authenticated for: it is anyone's words, and costs them nothing. */
  anonymous: 256,
  userAgent: 256,
  kubectlCommand: 1024,
  kubectlSession: 128,
  execArgument: 1024,
  execArguments: 64,
  container: 253,
} as const;

/** A client-sent header, cut to `max` characters (fewer when nobody was authenticated). */
const header = (request: ProxyRequest, name: string, max: number) => {
  const v = request.incoming.headers[name];
  const limit = request.principal ? max : Math.min(max, RECORD_TEXT_MAX.anonymous);
  return typeof v === 'string' && v.length > 0 ? v.slice(0, limit) : undefined;
};

/** Verbs that only read; anything else, an unknown verb included, may change the cluster. */
const READ_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'watch', 'head', 'options']);
/** Subresources that run code or open connections inside the cluster, whatever the verb. */
const INTERACTIVE: ReadonlySet<string> = new Set(['exec', 'attach', 'portforward', 'proxy']);

/**
 * Whether a request may change the cluster (create, update, patch, delete, deletecollection, exec, attach,
 * port-forward, proxy, and any verb not known to be a read): such a request gets a `RequestReceived`
 * record committed before it is forwarded, so a controller that dies between forwarding and the
 * response's record still leaves the attempt on record.
 */
export function mayChangeCluster(kube: KubeRequest): boolean {
  return !READ_VERBS.has(kube.verb) || (kube.subresource !== undefined && INTERACTIVE.has(kube.subresource));
}

/** Whether a plain request streams until someone stops it (an upgrade always does): its record has a start and an end. */
export function isLongRunning(kube: KubeRequest, query: URLSearchParams): boolean {
  return kube.isWatch || (kube.subresource === 'log' && /^(1|true)$/i.test(query.get('follow') ?? ''));
}

export function apiRecord(
  request: ProxyRequest,
  outcome: { stage: ApiRecord['stage']; status: number; reason?: string; bytes?: number; endedAt?: number },
): ApiRecord {
  const { incoming, kube, principal, identity } = request;
  const record: ApiRecord = {
    kind: 'api',
    id: request.auditId,
    stage: outcome.stage,
    at: request.at,
    user: principal?.username ?? null,
    cluster: request.cluster,
    method: request.method,
    requestURI: (incoming.url ?? '/').slice(
      0,
      principal ? RECORD_TEXT_MAX.requestURI : RECORD_TEXT_MAX.anonymous,
    ),
    verb: kube?.verb ?? request.method.toLowerCase(),
    sourceIPs: [incoming.socket.remoteAddress ?? ''],
    status: outcome.status,
  };
  const userAgent = header(request, 'user-agent', RECORD_TEXT_MAX.userAgent);
  if (userAgent) record.userAgent = userAgent;
  if (identity) {
    record.role = identity.role;
    if (identity.channel) record.channel = identity.channel;
    if (identity.sessionId) record.sessionId = identity.sessionId;
  } else if (principal?.channel) record.channel = principal.channel;
  const kubectlCommand = header(request, 'kubectl-command', RECORD_TEXT_MAX.kubectlCommand);
  const kubectlSession = header(request, 'kubectl-session', RECORD_TEXT_MAX.kubectlSession);
  if (kubectlCommand) record.kubectlCommand = kubectlCommand;
  if (kubectlSession) record.kubectlSession = kubectlSession;
  if (kube?.isResourceRequest) {
    record.objectRef = {
      ...(kube.apiGroup ? { apiGroup: kube.apiGroup } : {}),
      ...(kube.apiVersion ? { apiVersion: kube.apiVersion } : {}),
      ...(kube.resource ? { resource: kube.resource } : {}),
      ...(kube.namespace ? { namespace: kube.namespace } : {}),
      ...(kube.name ? { name: kube.name } : {}),
      ...(kube.subresource ? { subresource: kube.subresource } : {}),
    };
    if (kube.subresource === 'exec' || kube.subresource === 'attach') {
      const command = request.url.searchParams
        .getAll('command')
        .slice(0, RECORD_TEXT_MAX.execArguments)
        .map((a) => a.slice(0, RECORD_TEXT_MAX.execArgument));
      if (command.length > 0) record.command = command;
      const container = request.url.searchParams.get('container');
      if (container) record.container = container.slice(0, RECORD_TEXT_MAX.container);
    }
  }
  if (outcome.reason) record.reason = outcome.reason;
  if (outcome.bytes !== undefined) record.bytes = outcome.bytes;
  if (outcome.endedAt !== undefined) {
    record.endedAt = outcome.endedAt;
    record.durationMs = outcome.endedAt - request.at;
  }
  return record;
}

/**
 * Where a proxied request's record goes: the trail of its cluster's org, with the cluster's project; a
 * request for no known cluster (refused before that was learnt) into the default org's.
 */
export function recordInClusterOrg(
  scopes: { clusterScope(cluster: string): Promise<{ orgId: string; project: string } | undefined> },
  trail: { append(orgId: string, record: ApiRecord): Promise<void> },
  defaultOrgId: string,
): (record: ApiRecord) => Promise<void> {
  return async (record) => {
    const scope = record.cluster ? await scopes.clusterScope(record.cluster) : undefined;
    await trail.append(scope?.orgId ?? defaultOrgId, scope ? { ...record, project: scope.project } : record);
  };
}
