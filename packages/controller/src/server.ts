// Wires the controller together: TLS, store, registry, tunnel endpoint, kube proxy and REST API on one
// HTTPS listener. Each piece lives in its own folder; this file only connects them.
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fastifyCookie } from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { pino, type Logger } from 'pino';
import { AGENT_CONNECT_PATH, CLUSTER_PROXY_PREFIX, ZtkaError } from '@ztka/protocol';
import { Access } from './access/authorize.js';
import { RequestLimits } from './access/request-limits.js';
import { Revocations } from './access/revocation.js';
import { registerAuthRoutes } from './api/auth-routes.js';
import { registerClusterRoutes } from './api/cluster-routes.js';
import type { ApiDeps } from './api/context.js';
import { registerCredentialRoutes } from './api/credential-routes.js';
import { installErrorHandler } from './api/error-handler.js';
import { DEFAULT_WEB_ROOT, isConsoleRoute, registerConsole } from './api/console.js';
import { registerOpenApi, registerOpenApiRoute } from './api/openapi.js';
import { registerOrgRoutes } from './api/org-routes.js';
import { registerTotpRoutes } from './api/totp-routes.js';
import { AuditLog } from './audit/log.js';
import { AuditQuery } from './audit/query.js';
import { WebhookSink } from './audit/webhook.js';
import { AuditSigner } from './audit/signer.js';
import { AuditCheckpoints } from './audit/checkpoints.js';
import { AuditRetention } from './audit/retention.js';
import { SystemEvents } from './audit/system-events.js';
import { registerAuditRoutes } from './api/audit-routes.js';
import { SHELL_PATH, createShellEndpoint } from './api/shell-socket.js';
import { Authenticator } from './auth/authenticate.js';
import { kubeCredentialOf } from './auth/kube-credential.js';
import { bootstrapOrg } from './auth/bootstrap.js';
import { CredentialStore } from './auth/credentials.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { TotpStore } from './auth/totp.js';
import { AgentCredentials } from './clusters/agent-credentials.js';
import { agentDirectory } from './clusters/agent-directory.js';
import { recordAgentEvents } from './clusters/agent-events.js';
import { BootstrapTokens } from './clusters/bootstrap-tokens.js';
import { ClusterStore } from './clusters/clusters.js';
import { ChangeFeed } from './org/changes.js';
import { GroupDirectory } from './org/groups.js';
import { ProjectStore } from './org/projects.js';
import { RoleAssignments } from './org/role-assignments.js';
import { SettingsStore } from './org/settings.js';
import { UserDirectory } from './org/users.js';
import { hostPort, type Config } from './config.js';
import { recordInClusterOrg } from './kube-proxy/audit.js';
import { createKubeProxy } from './kube-proxy/proxy.js';
import {
  LISTENER_OPTIONS,
  answerClientError,
  oversizedCredentialHeader,
  refuseConnect,
  refuseOnSocket,
  refuseRequest,
} from './http/limits.js';
import { acceptProxyProtocol, parseTrustedProxies } from './http/proxy-listener.js';
import { createMetrics, observeProxied } from './observability/metrics.js';
import { loadMetricsToken, registerMetricsRoute } from './observability/metrics-route.js';
import { loadOrCreateTls } from './pki/ca.js';
import { openStore, storeDialect } from './store/open.js';
import { migrateToLatest } from './store/migrations.js';
import { createAgentEndpoint } from './tunnel/accept.js';
import { AgentAlerts } from './tunnel/alerts.js';
import { TunnelRegistry } from './tunnel/session.js';
import { ShellKubeSockets } from './webshell/kube-socket.js';
import { ShellSandbox } from './webshell/sandbox.js';
import { SecretBox } from './store/sealed.js';
import { ChangeBridge } from './store/change-bridge.js';
import { startPeering } from './peers/peering.js';
import { SSO_CALLBACK_PATH, registerSsoRoutes, type SsoServices } from './api/sso-routes.js';
import { registerSsoProviderRoutes } from './api/sso-provider-routes.js';
import { SsoIdentities } from './auth/sso/identities.js';
import { SsoLogins } from './auth/sso/logins.js';
import { OidcClients } from './auth/sso/oidc.js';
import { SsoProviderStore } from './auth/sso/providers.js';
import { SsoRefresher } from './auth/sso/refresher.js';

/** Expired and revoked credentials are kept this long (for the credentials list), then deleted. */
const CREDENTIAL_RETENTION_MS = 7 * 24 * 3600_000;
const MIB = 1024 * 1024;

export interface ControllerServer {
  url: string;
  caCertPem: string;
  /** Set only on the start that created the first admin with a generated password. */
  adminPasswordCreated: string | undefined;
  tunnels: TunnelRegistry;
  log: Logger;
  close(): Promise<void>;
}

/** How long tunnels and shells get to close on their own when the controller stops. */
const UPGRADED_GRACE_MS = 2000;

export async function startController(
  config: Config,
  opts: { log?: Logger; adminPassword?: string } = {},
): Promise<ControllerServer> {
  const log = opts.log ?? pino({ name: 'ztka-controller', level: config.logLevel });
  // Read first: a token file that cannot be used stops the start before anything is created.
  const metricsToken = config.metricsTokenFile ? await loadMetricsToken(config.metricsTokenFile) : undefined;
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });

  const publicHost = new URL(config.publicUrl).hostname.replace(/^\[|\]$/g, '');
  const listen = hostPort(config.listen);
  const listenHost = listen.host || '0.0.0.0';
  const tls = await loadOrCreateTls({
    dataDir: config.dataDir,
    hosts: [publicHost, ...(listenHost === '0.0.0.0' || listenHost === '::' ? [] : [listenHost])],
    ...(config.tlsCertFile ? { certFile: config.tlsCertFile } : {}),
    ...(config.tlsKeyFile ? { keyFile: config.tlsKeyFile } : {}),
    ...(config.tlsCaFile ? { caFile: config.tlsCaFile } : {}),
  });

  const database = config.database ?? path.join(config.dataDir, 'ztka.db');
  const db = openStore(database);
  await migrateToLatest(db);
  const bootstrapTokens = new BootstrapTokens(db, { ttlMs: config.bootstrapTokenTtlSeconds * 1000 });
  const clusters = new ClusterStore(db, bootstrapTokens);
  const agentCredentials = new AgentCredentials(db);
  const changes = new ChangeFeed();
  // Replicas sharing PostgreSQL hear each other's changes at once (store/change-bridge.ts).
  const bridge = storeDialect(database) === 'postgres' ? new ChangeBridge(database, changes, log) : undefined;
  await bridge?.start();
  const users = new UserDirectory(db, changes);
  const roles = new RoleAssignments(db, changes);
  const settings = new SettingsStore(db, changes);
  const credentials = new CredentialStore(db, changes);
  const authenticator = new Authenticator(credentials, changes);
  const access = new Access(db, roles, settings, credentials, changes);
  const boot = await bootstrapOrg(db, {
    adminPassword: opts.adminPassword ?? process.env['ZTKA_ADMIN_PASSWORD'],
  });
  const metrics = createMetrics();
  const audit = new AuditLog(db);
  const auditSigner = await AuditSigner.loadOrCreate(
    config.auditKeyFile ?? path.join(config.dataDir, 'keys', 'audit-signing.key'),
  );
  const secretBox = await SecretBox.loadOrCreate(
    config.secretsKeyFile ?? path.join(config.dataDir, 'keys', 'secrets.key'),
  );
  const auditQuery = new AuditQuery(db, Date.now, auditSigner);
  const auditCheckpoints = new AuditCheckpoints({
    signer: auditSigner,
    query: auditQuery,
    file: config.auditCheckpointFile ?? path.join(config.dataDir, 'audit-checkpoints.jsonl'),
    intervalMs: config.auditCheckpointIntervalSeconds * 1000,
    log,
  });
  audit.onCommit((orgId, _record, seq, hash) => auditCheckpoints.committed(orgId, seq, hash));
  auditCheckpoints.start();
  const auditRetention = new AuditRetention({
    db,
    query: auditQuery,
    checkpoints: auditCheckpoints,
    days: config.auditRetentionDays,
    log,
  });
  auditRetention.start();
  const events = new SystemEvents(audit);
  const webhook = config.auditWebhookUrl ? new WebhookSink(config.auditWebhookUrl, log) : undefined;
  if (webhook) {
    audit.onCommit((orgId, record, seq) => webhook.push(orgId, record, seq));
    auditCheckpoints.onCheckpoint((c) => webhook.pushCheckpoint(c));
  }
  audit.onBatch((records) => {
    metrics.auditCommits.inc();
    metrics.auditRecords.inc(records);
  });
  const tunnels = new TunnelRegistry();
  // Which replica holds each cluster's tunnel, and the way to the others (peers/).
  const peering = await startPeering({
    db,
    secretBox,
    tunnels,
    changes,
    clusterExists: async (name) => (await clusters.get(name)) !== undefined,
    peerListen: config.peerListen,
    peerUrl: config.peerUrl,
    probeTimeoutMs: config.agentPingTimeoutMs,
    log,
  });
  const revocations = new Revocations(db, access, tunnels, log, changes);
  const agentEvent = recordAgentEvents({ access, events, tunnels, defaultOrgId: boot.orgId, log });
  const agentAlerts = new AgentAlerts({ record: agentEvent, metrics, log });
  const limits = new RequestLimits({
    perPerson: config.rateLimitPerPerson,
    perAddress: config.rateLimitPerAddress,
  });
  const handleAgentUpgrade = createAgentEndpoint({
    directory: agentDirectory(agentCredentials, clusters),
    tunnels,
    claims: peering.router,
    log,
    keepalive: { intervalMs: config.agentPingIntervalMs, timeoutMs: config.agentPingTimeoutMs },
    alerts: agentAlerts,
    limits,
  });
  const shellSockets = new ShellKubeSockets(tls);
  const kubeProxy = createKubeProxy(
    {
      route: (cluster) => peering.router.route(cluster),
      reconnecting: (cluster) => peering.router.reconnecting(cluster),
      limits,
      authenticate: kubeCredentialOf(authenticator, shellSockets),
      authorize: (principal, cluster) => access.kubeIdentity(principal, cluster),
      audit: recordInClusterOrg(access, audit, boot.orgId),
      track: (target, end) => revocations.trackRequest(target, end),
    },
    observeProxied(metrics),
  );

  let server!: https.Server;
  // Typed as Fastify's own logger so the app has Fastify's default instance type.
  const fastifyLog: FastifyBaseLogger = log;
  const app = Fastify({
    loggerInstance: fastifyLog,
    bodyLimit: 1 << 20,
    // Unknown fields are refused rather than silently dropped, and a number is not a string: a request
    // that does not say exactly what it means is a 400 naming the field.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // The client's own address is what login throttling and the audit record; no HTTP header names it. A
    // load balancer's PROXY protocol header, read before TLS, does (http/proxy-listener.ts).
    trustProxy: false,
    clientErrorHandler: answerClientError,
    serverFactory: (handler) => {
      server = https.createServer({ cert: tls.certPem, key: tls.keyPem, ...LISTENER_OPTIONS }, (req, res) => {
        const oversized = oversizedCredentialHeader(req.headers);
        if (oversized) refuseRequest(req, res, oversized);
        // Kube API traffic bypasses Fastify: it must stream both ways and never be parsed or buffered.
        else if (req.url?.startsWith(CLUSTER_PROXY_PREFIX)) kubeProxy.handleRequest(req, res);
        else handler(req, res);
      });
      return server;
    },
  });

  // Cookies are read where a credential is looked for (auth/authenticate.ts), not parsed for every request.
  await app.register(fastifyCookie, { hook: false });
  const consoleServed = await registerConsole(app, config.webRoot ?? DEFAULT_WEB_ROOT);
  installErrorHandler(app, consoleServed ? (url) => isConsoleRoute('GET', url) : undefined);

  app.get('/healthz', async () => 'ok');
  // From the first moment of a shutdown, so load balancers send new connections elsewhere.
  let draining = false;
  app.get('/readyz', async (_req, reply) => {
    if (draining) return reply.code(503).send('shutting down');
    try {
      await clusters.list();
      return 'ok';
    } catch {
      return reply.code(503).send('store unavailable');
    }
  });
  if (metricsToken) registerMetricsRoute(app, { metrics, tunnels, tokenDigest: metricsToken });
  const deps: ApiDeps = {
    defaultOrgId: boot.orgId,
    publicUrl: config.publicUrl,
    caCertPem: tls.caCertPem,
    agentImage: config.agentImage,
    kubeTokenTtlMs: config.kubeTokenTtlSeconds * 1000,
    clusters,
    bootstrapTokens,
    tunnels,
    changes,
    users,
    groups: new GroupDirectory(db, changes),
    projects: new ProjectStore(db),
    roles,
    settings,
    credentials,
    totp: new TotpStore(db, secretBox),
    authenticator,
    access,
    throttle: new LoginThrottle(),
    limits,
    events,
    audit,
    auditQuery,
    auditCheckpoints,
    revocations,
    secretBox,
  };
  const ssoRedirectUri = `${config.publicUrl.replace(/\/+$/, '')}${SSO_CALLBACK_PATH}`;
  const sso: SsoServices = {
    providers: new SsoProviderStore(db, secretBox, ssoRedirectUri),
    identities: new SsoIdentities(db, changes, secretBox),
    logins: new SsoLogins(db, secretBox),
    clients: new OidcClients(ssoRedirectUri),
  };
  const ssoRefresher = new SsoRefresher({ ...sso, events, log, intervalMs: config.ssoRefreshSeconds * 1000 });
  ssoRefresher.start();
  // A change answers only once the agents have acted on it: "disabled" means the clusters have revoked too.
  app.addHook('onSend', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      await revocations.idle();
      await bridge?.flushed();
    }
  });
  await registerOpenApi(app, config.publicUrl);
  registerAuthRoutes(app, deps);
  registerTotpRoutes(app, deps);
  registerOrgRoutes(app, deps);
  registerClusterRoutes(app, deps);
  registerCredentialRoutes(app, deps);
  registerAuditRoutes(app, deps);
  registerSsoRoutes(app, deps, sso);
  registerSsoProviderRoutes(app, deps, sso);
  registerOpenApiRoute(app);
  await app.ready();
  const pruneTimer = setInterval(() => {
    credentials
      .prune(CREDENTIAL_RETENTION_MS)
      .catch((err: unknown) => log.warn({ err }, 'credential prune failed'));
    sso.logins.prune().catch((err: unknown) => log.warn({ err }, 'sign-in prune failed'));
  }, 3600_000).unref();

  shellSockets.serve(kubeProxy);
  const sandbox = new ShellSandbox({
    kubectl: config.kubectlPath,
    workRoot: config.shellWorkRoot ?? os.tmpdir(),
    uidBase: config.shellUidBase,
    slots: config.shellMaxTotal,
    limits: {
      memoryBytes: config.shellMemoryMb * MIB,
      tasks: config.shellTasks,
      cpuPercent: config.shellCpuPercent,
      cpuSeconds: config.shellCpuSeconds,
      fileBytes: config.shellFileMb * MIB,
    },
    tools: { bwrap: config.shellBwrapPath },
    log,
  });
  // Said at start, not only when someone opens a shell.
  sandbox.ready().catch((err: unknown) => log.warn({ reason: (err as Error).message }, 'browser shell'));

  let url = config.publicUrl;
  const handleShellUpgrade = createShellEndpoint({
    publicUrl: () => url,
    caCertPem: tls.caCertPem,
    tlsServerName: publicHost,
    sandbox,
    kubeSockets: shellSockets,
    maxPerUser: config.shellMaxPerUser,
    limits,
    maxTotal: config.shellMaxTotal,
    commandTimeoutMs: config.shellCommandTimeoutSeconds * 1000,
    authenticator,
    access,
    credentials,
    audit,
    events,
    changes,
    log,
  });

  server.on('connect', refuseConnect);
  if (config.proxyProtocolFrom)
    acceptProxyProtocol(server, { trusted: parseTrustedProxies(config.proxyProtocolFrom), log });
  // Upgraded sockets (tunnels, shells, exec) leave the HTTP server's own bookkeeping, so shutdown ends them
  // itself; and one that arrives while shutting down (an agent redialling at once) is refused rather than
  // left to hold the server open.
  const upgraded = new Set<Duplex>();
  let closing = false;
  server.on('upgrade', (req, socket, head) => {
    if (closing) return void socket.destroy();
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const url = req.url ?? '';
    const oversized = oversizedCredentialHeader(req.headers);
    if (oversized) refuseOnSocket(socket, url, oversized);
    else if (url.startsWith(CLUSTER_PROXY_PREFIX)) kubeProxy.handleUpgrade(req, socket, head);
    else if (url.split('?')[0] === AGENT_CONNECT_PATH) {
      handleAgentUpgrade(req, socket, head).catch((err: unknown) => {
        log.error({ err }, 'agent connection failed');
        socket.destroy();
      });
    } else if (url.split('?')[0] === SHELL_PATH) {
      handleShellUpgrade(req, socket, head).catch((err: unknown) => {
        log.error({ err }, 'shell connection failed');
        socket.destroy();
      });
    } else refuseOnSocket(socket, url, new ZtkaError('not_found', 'nothing is served at this path'));
  });

  await app.listen({ host: listenHost, port: listen.port });
  const bound = (server.address() as AddressInfo).port;
  url = listen.port === 0 ? config.publicUrl.replace(/:\d+$/, `:${bound}`) : config.publicUrl;
  log.info({ url, listen: `${listenHost}:${bound}` }, 'controller listening');

  return {
    url,
    caCertPem: tls.caCertPem,
    adminPasswordCreated: boot.generatedPassword,
    tunnels,
    log,
    close: async () => {
      draining = true;
      // From now on a tunnel that closes is handed over: the balancer, seeing /readyz fail, may cut it
      // before the drain below does, and its agent redials another replica; meanwhile requests there retry.
      peering.router.handOver();
      // Served as before meanwhile: the balancers are still sending what they sent before they noticed.
      if (config.shutdownDelaySeconds > 0)
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDelaySeconds * 1000));
      closing = true;
      clearInterval(pruneTimer);
      // Each step runs even if one before it failed: what is only counted or queued (refusals, records,
      // the last head's signature) must reach the store whatever else goes wrong on the way down.
      const step = async (name: string, run: () => unknown) => {
        try {
          await run();
        } catch (err) {
          log.error({ err, step: name }, 'shutdown step failed');
        }
      };
      await step('audit retention', () => auditRetention.stop());
      await step('single sign-on refresh', () => ssoRefresher.stop());
      await step('webhook', () => webhook?.close());
      // Fastify's close stops the listener first and answers REST requests that still arrive on open
      // connections with 503; it resolves once the connections ended below are gone.
      const appClosed = step('http server', () => app.close());
      // Short requests in flight finish, long-running ones end so their clients reconnect: a rolling
      // update costs no request.
      // Requests other replicas carry to this one's tunnels too: new ones are sent back to be retried.
      await Promise.all([
        step('drain', () => kubeProxy.drain(config.shutdownGraceSeconds * 1000)),
        step('peer drain', () => peering.drain(config.shutdownGraceSeconds * 1000)),
      ]);
      await step('tunnels', () => tunnels.closeAll('controller shutting down'));
      await step('peering', () => peering.close());
      await step('connections', async () => {
        server.closeAllConnections();
        // Tunnels and shells were told why they end; whatever has not gone in a moment is cut.
        for (let waited = 0; upgraded.size > 0 && waited < UPGRADED_GRACE_MS; waited += 50)
          await new Promise((r) => setTimeout(r, 50));
        for (const socket of upgraded) socket.destroy();
      });
      await appClosed;
      await step('kube proxy', () => kubeProxy.close());
      await step('agent alerts', () => agentAlerts.close());
      await step('audit', () => audit.drain());
      // The last head is signed before the store closes, so a restart begins from a fresh anchor.
      await step('audit checkpoints', () => auditCheckpoints.close());
      await step('change bridge', () => bridge?.close());
      await step('store', () => db.destroy());
      log.info('controller stopped');
    },
  };
}
