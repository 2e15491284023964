// The audit record of one proxied request, built from what the proxy learnt while resolving it: a
// request refused before it was known who asked still gets a record, with what is known.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { KubeRequest, TunnelIdentity } from '@ztka/protocol';
import type { ApiRecord } from '../audit/record.js';
import type { Principal } from '../auth/credentials.js';

/** Filled in as the request is resolved; whatever is set when it ends goes into its record. */
export interface RequestContext {
  auditId: string;
  /** The request URL, parsed once for routing, the kube request and the record. */
  url: URL;
  at: number;
  cluster: string;
  principal?: Principal;
  identity?: TunnelIdentity;
  kube?: KubeRequest;
}

export function newContext(req: IncomingMessage): RequestContext {
  return {
    auditId: randomUUID(),
    at: Date.now(),
    cluster: '',
    url: new URL(req.url ?? '/', 'https://controller.invalid'),
  };
}

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
const header = (req: IncomingMessage, ctx: RequestContext, name: string, max: number) => {
  const v = req.headers[name];
  const limit = ctx.principal ? max : Math.min(max, RECORD_TEXT_MAX.anonymous);
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

/** Whether a request streams until someone stops it: its record has a start and an end. */
export function isLongRunning(kube: KubeRequest, query: URLSearchParams, upgrade: boolean): boolean {
  return (
    upgrade || kube.isWatch || (kube.subresource === 'log' && /^(1|true)$/i.test(query.get('follow') ?? ''))
  );
}

export function apiRecord(
  req: IncomingMessage,
  ctx: RequestContext,
  outcome: { stage: ApiRecord['stage']; status: number; reason?: string; bytes?: number; endedAt?: number },
): ApiRecord {
  const kube = ctx.kube;
  const record: ApiRecord = {
    kind: 'api',
    id: ctx.auditId,
    stage: outcome.stage,
    at: ctx.at,
    user: ctx.principal?.username ?? null,
    cluster: ctx.cluster,
    method: req.method ?? 'GET',
    requestURI: (req.url ?? '/').slice(
      0,
      ctx.principal ? RECORD_TEXT_MAX.requestURI : RECORD_TEXT_MAX.anonymous,
    ),
    verb: kube?.verb ?? (req.method ?? 'get').toLowerCase(),
    sourceIPs: [req.socket.remoteAddress ?? ''],
    status: outcome.status,
  };
  const userAgent = header(req, ctx, 'user-agent', RECORD_TEXT_MAX.userAgent);
  if (userAgent) record.userAgent = userAgent;
  if (ctx.identity) {
    record.role = ctx.identity.role;
    if (ctx.identity.channel) record.channel = ctx.identity.channel;
    if (ctx.identity.sessionId) record.sessionId = ctx.identity.sessionId;
  } else if (ctx.principal?.channel) record.channel = ctx.principal.channel;
  const kubectlCommand = header(req, ctx, 'kubectl-command', RECORD_TEXT_MAX.kubectlCommand);
  const kubectlSession = header(req, ctx, 'kubectl-session', RECORD_TEXT_MAX.kubectlSession);
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
      const command = ctx.url.searchParams
        .getAll('command')
        .slice(0, RECORD_TEXT_MAX.execArguments)
        .map((a) => a.slice(0, RECORD_TEXT_MAX.execArgument));
      if (command.length > 0) record.command = command;
      const container = ctx.url.searchParams.get('container');
      if (container) record.container = container.slice(0, RECORD_TEXT_MAX.container);
    }
  }
  if (outcome.reason) record.reason = outcome.reason;
  if (outcome.bytes !== undefined) record.bytes = outcome.bytes;
  if (outcome.endedAt !== undefined) {
    record.endedAt = outcome.endedAt;
    record.durationMs = outcome.endedAt - ctx.at;
  }
  return record;
}
