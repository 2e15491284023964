// The browser shell's WebSocket (`/v1/shell?cluster=<name>`): checked like any console request — the
// session cookie, and an Origin that is the console's own (a cookie alone would let any site open a shell
// in the user's name) — then handed to webshell/. Each shell acts through the proxy like any kubectl, with
// kube tokens of its own (channel web-shell, bound to the cluster, to the shell session and to its sandbox's
// socket), revoked when it ends; it ends too when its person loses access. Each person has at most
// maxPerUser shells open, the controller maxTotal.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_KUBE_TOKEN_TTL_SECONDS, ZtkaError, isDnsLabel, type CommandRecord } from '@ztka/protocol';
import type { Access } from '../access/authorize.js';
import type { RequestLimits } from '../access/request-limits.js';
import type { AuditLog } from '../audit/log.js';
import type { SystemEvents } from '../audit/system-events.js';
import { sessionCookie, type Authenticator } from '../auth/authenticate.js';
import type { CredentialStore, Principal } from '../auth/credentials.js';
import { renderKubeconfig } from '../auth/kubeconfig.js';
import { refuseOnSocket } from '../http/limits.js';
import type { ChangeFeed } from '../org/changes.js';
import type { ShellKubeSockets } from '../webshell/kube-socket.js';
import { insideServerUrl, type ShellSandbox } from '../webshell/sandbox.js';
import type { ServerFrame } from '../webshell/frames.js';
import { startShellSession, type ShellSession } from '../webshell/session.js';

export const SHELL_PATH = '/v1/shell';
/** Refused lines of one shell recorded in full; the rest are counted in the record of its end. */
const REFUSALS_RECORDED = 100;

export interface ShellEndpointDeps {
  /** The controller's public URL, known once it listens (a port 0 is resolved then). */
  publicUrl: () => string;
  caCertPem: string;
  /** A name on the controller's serving certificate, for the shell's kubectl to check. */
  tlsServerName: string;
  sandbox: ShellSandbox;
  kubeSockets: ShellKubeSockets;
  maxPerUser: number;
  maxTotal: number;
  commandTimeoutMs: number;
  authenticator: Authenticator;
  access: Access;
  credentials: CredentialStore;
  audit: AuditLog;
  events: SystemEvents;
  changes: ChangeFeed;
  /** Opening a shell and each refused line count against the person's rate limit. */
  limits: Pick<RequestLimits, 'person' | 'anonymous'>;
  log: Logger;
}

function refuse(socket: Duplex, err: ZtkaError): void {
  refuseOnSocket(socket, SHELL_PATH, err);
}

/** A shell that may not open: the WebSocket is accepted so the terminal can say why, then closed. */
function turnAway(ws: WebSocket, message: string): void {
  const frames: ServerFrame[] = [
    { type: 'output', data: `ztka: ${message}\r\n` },
    { type: 'exit', reason: message },
  ];
  for (const frame of frames) ws.send(JSON.stringify(frame));
  ws.close(1000);
}

export function createShellEndpoint(deps: ShellEndpointDeps) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  const live = new Map<string, { principal: Principal; cluster: string; shell: ShellSession }>();

  // After any change (a revocation, a lost role, a logout), every open shell is checked again.
  deps.changes.on(() =>
    setImmediate(() => {
      for (const s of live.values()) {
        void deps.access.reauthorize(s.principal, s.cluster).then((allowed) => {
          if (!allowed) s.shell.close('your access to this cluster has ended');
        });
      }
    }),
  );

  return async function handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    if (req.headers.origin !== new URL(deps.publicUrl()).origin)
      return refuse(socket, new ZtkaError('forbidden', 'the shell opens only from the ztka console'));
    const cookie = sessionCookie(req.headers);
    const principal = cookie === undefined ? undefined : await deps.authenticator.verify(cookie, ['session']);
    if (!principal) {
      try {
        await deps.limits.anonymous(req.socket.remoteAddress ?? '');
      } catch (err) {
        return refuse(socket, err as ZtkaError);
      }
      return refuse(socket, new ZtkaError('unauthorized', 'the session has ended: log in again'));
    }
    try {
      await deps.limits.person(principal.userId);
    } catch (err) {
      return refuse(socket, err as ZtkaError);
    }
    const cluster = new URL(req.url ?? '/', 'https://x').searchParams.get('cluster') ?? '';
    if (!isDnsLabel(cluster))
      return refuse(socket, new ZtkaError('bad_request', 'cluster must name a cluster'));

    const shellId = randomUUID();
    const shellPrincipal: Principal = {
      ...principal,
      channel: 'web-shell',
      clusterId: null,
      sessionId: shellId,
    };
    try {
      await deps.access.kubeIdentity(shellPrincipal, cluster);
    } catch (err) {
      return refuse(socket, err instanceof ZtkaError ? err : new ZtkaError('internal', 'internal error'));
    }
    const scope = await deps.access.clusterScope(cluster);
    if (!scope) return refuse(socket, new ZtkaError('not_found', `unknown cluster "${cluster}"`));

    const tokens: string[] = [];
    const kubeconfig = async () => {
      const issued = await deps.credentials.issue(principal.userId, 'kube_token', {
        name: `browser shell on ${cluster}`,
        ttlMs: MAX_KUBE_TOKEN_TTL_SECONDS * 1000,
        channel: 'web-shell',
        clusterId: scope.clusterId,
        sessionId: shellId,
        // Renewals stop with the console session that opened the shell.
        issuedBy: { credentialId: principal.credentialId },
      });
      tokens.push(issued.id);
      return renderKubeconfig({
        publicUrl: deps.publicUrl(),
        caCertPem: deps.caCertPem,
        username: principal.username,
        clusters: [cluster],
        token: issued.token,
        via: { url: insideServerUrl(), tlsServerName: deps.tlsServerName },
      });
    };
    const workspace = async () => {
      const opened = await deps.sandbox.open();
      try {
        const listener = await deps.kubeSockets.listen(shellId, opened.socketPath, opened.uid);
        return {
          ...opened,
          release: async () => {
            await listener.close();
            await opened.release();
          },
        };
      } catch (err) {
        await opened.release();
        throw err;
      }
    };

    const commandRecord = (line: string): CommandRecord => ({
      kind: 'command',
      id: randomUUID(),
      at: Date.now(),
      user: principal.username,
      project: scope.project,
      cluster,
      channel: 'web-shell',
      sessionId: shellId,
      command: line,
    });
    let refusalsRecorded = 0;
    let refusalsCounted = 0;

    wss.handleUpgrade(req, socket, head, (ws) => {
      // Counted and taken in one turn of the event loop: two shells opened at once cannot both slip in.
      const mine = [...live.values()].filter((s) => s.principal.userId === principal.userId).length;
      if (mine >= deps.maxPerUser)
        return turnAway(
          ws,
          `you have ${mine} shells open, the most allowed: close one (Ctrl-D, or its tab) to open another`,
        );
      if (live.size >= deps.maxTotal)
        return turnAway(ws, 'this controller runs as many shells as it can: try again later');
      const shell = startShellSession({
        id: shellId,
        socket: ws,
        username: principal.username,
        cluster,
        kubeconfig,
        workspace,
        commandTimeoutMs: deps.commandTimeoutMs,
        recordCommand: (line) => deps.audit.append(scope.orgId, commandRecord(line)),
        // Refused lines cost nothing to send: the first REFUSALS_RECORDED of a shell are recorded in full,
        // the rest counted into the record of its end.
        recordRefusal: async (line, why) => {
          // Per shell and per person: reopening shells does not buy more full records.
          const allowed = await deps.limits.person(principal.userId).then(
            () => true,
            () => false,
          );
          if (!allowed || refusalsRecorded >= REFUSALS_RECORDED) return void refusalsCounted++;
          refusalsRecorded++;
          await deps.audit.append(scope.orgId, { ...commandRecord(line), refused: why });
        },
        log: deps.log,
        onEnd: (reason) => {
          live.delete(shellId);
          // The shell's credentials die with it.
          for (const id of tokens) void deps.credentials.revoke(id).catch(() => undefined);
          void deps.events
            .record({
              kind: 'shell_ended',
              orgId: scope.orgId,
              actor: principal.username,
              detail: {
                cluster,
                session: shellId,
                reason,
                ...(refusalsCounted > 0 ? { refusedLinesNotRecorded: refusalsCounted } : {}),
              },
            })
            .catch(() => undefined);
        },
      });
      live.set(shellId, { principal: shellPrincipal, cluster, shell });
      void deps.events
        .record({
          kind: 'shell_started',
          orgId: scope.orgId,
          actor: principal.username,
          sourceIp: req.socket.remoteAddress ?? null,
          detail: { cluster, session: shellId },
        })
        .catch(() => undefined);
    });
  };
}
