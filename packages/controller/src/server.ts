// Wires the controller together: TLS, store, registry, tunnel endpoint, kube proxy and REST API on one
// HTTPS listener. Each piece lives in its own folder; this file only connects them.
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { AGENT_CONNECT_PATH, CLUSTER_PROXY_PREFIX, ZtkaError } from '@ztka/protocol';
import { registerRoutes } from './api/routes.js';
import { loadBootstrapAdmin } from './auth/bootstrap-admin.js';
import { ClusterRegistry } from './clusters/registry.js';
import type { Config } from './config.js';
import { createKubeProxy } from './kube-proxy/forward.js';
import { createMetrics } from './observability/metrics.js';
import { loadOrCreateTls } from './pki/ca.js';
import { openSqlite } from './store/db.js';
import { migrateToLatest } from './store/migrations.js';
import { createAgentEndpoint } from './tunnel/accept.js';
import { TunnelRegistry } from './tunnel/session.js';

/** Longest request head the controller reads; longer ones get 431 before any work is done. */
const MAX_HEADER_BYTES = 64 * 1024;

export interface ControllerServer {
  url: string;
  caCertPem: string;
  /** Set only on the start that generated the bootstrap admin token. */
  adminTokenCreated: string | undefined;
  registry: ClusterRegistry;
  tunnels: TunnelRegistry;
  log: Logger;
  close(): Promise<void>;
}

export async function startController(
  config: Config,
  opts: { log?: Logger; adminToken?: string } = {},
): Promise<ControllerServer> {
  const log = opts.log ?? pino({ name: 'ztka-controller', level: config.logLevel });
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });

  const publicHost = new URL(config.publicUrl).hostname.replace(/^\[|\]$/g, '');
  const listenHost =
    config.listen.slice(0, config.listen.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  const tls = await loadOrCreateTls({
    dataDir: config.dataDir,
    hosts: [publicHost, ...(listenHost === '0.0.0.0' || listenHost === '::' ? [] : [listenHost])],
    ...(config.tlsCertFile ? { certFile: config.tlsCertFile } : {}),
    ...(config.tlsKeyFile ? { keyFile: config.tlsKeyFile } : {}),
    ...(config.tlsCaFile ? { caFile: config.tlsCaFile } : {}),
  });

  const db = openSqlite(path.join(config.dataDir, 'ztka.db'));
  await migrateToLatest(db);
  const registry = new ClusterRegistry(db, undefined, {
    bootstrapTokenTtlMs: config.bootstrapTokenTtlSeconds * 1000,
  });
  // No tunnel survives a restart: whatever the store says, every cluster is disconnected until it dials in.
  await registry.resetConnections();
  const admin = await loadBootstrapAdmin(config.dataDir, opts.adminToken ?? process.env['ZTKA_ADMIN_TOKEN']);
  const metrics = createMetrics();
  const tunnels = new TunnelRegistry();

  const handleAgentUpgrade = createAgentEndpoint({
    directory: registry,
    tunnels,
    log,
    keepalive: { intervalMs: config.agentPingIntervalMs, missedPongs: 2 },
  });
  const kubeProxy = createKubeProxy(
    {
      tunnels,
      authenticate: admin.authenticate,
      clusterExists: async (name) => (await registry.getCluster(name)) !== undefined,
    },
    (target, outcome) => {
      metrics.proxyRequests.inc({
        cluster: target.cluster,
        verb: target.kube.verb,
        code: String(outcome.status),
      });
      metrics.proxyDuration.observe(
        { cluster: target.cluster, verb: target.kube.verb },
        outcome.durationMs / 1000,
      );
      metrics.proxyBytes.inc({ cluster: target.cluster }, outcome.bytesOut);
    },
  );

  let server!: https.Server;
  // Typed as Fastify's own logger so the app has Fastify's default instance type.
  const fastifyLog: FastifyBaseLogger = log;
  const app = Fastify({
    loggerInstance: fastifyLog,
    bodyLimit: 1 << 20,
    serverFactory: (handler) => {
      server = https.createServer(
        { cert: tls.certPem, key: tls.keyPem, maxHeaderSize: MAX_HEADER_BYTES },
        (req, res) => {
          // Kube API traffic bypasses Fastify: it must stream both ways and never be parsed or buffered.
          if (req.url?.startsWith(CLUSTER_PROXY_PREFIX)) kubeProxy.handleRequest(req, res);
          else handler(req, res);
        },
      );
      return server;
    },
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof ZtkaError)
      return reply.code(err.status).send({ code: err.code, message: err.message });
    const validation = err as { validation?: unknown; message?: string; statusCode?: number };
    if (validation.validation)
      return reply.code(400).send({ code: 'bad_request', message: validation.message });
    if (validation.statusCode && validation.statusCode < 500) {
      // Fastify's own refusals (body too large, bad content type, malformed JSON) in our error shape.
      const code = validation.statusCode === 413 ? 'payload_too_large' : 'bad_request';
      return reply.code(validation.statusCode).send({ code, message: validation.message });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ code: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ code: 'not_found', message: `no route for ${req.method} ${req.url.split('?')[0]}` }),
  );

  const requireAdmin = async (req: FastifyRequest, _reply: FastifyReply) => {
    if (!(await admin.authenticate(req.raw)))
      throw new ZtkaError('unauthorized', 'a valid ztka credential is required');
  };
  app.get('/healthz', async () => 'ok');
  app.get('/readyz', async (_req, reply) => {
    try {
      await registry.listClusters();
      return 'ok';
    } catch {
      return reply.code(503).send('store unavailable');
    }
  });
  app.get('/metrics', async (_req, reply) => {
    metrics.connectedAgents.set(tunnels.size);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  registerRoutes(app, {
    registry,
    requireAdmin,
    publicUrl: config.publicUrl,
    caCertPem: tls.caCertPem,
    agentImage: config.agentImage,
  });
  await app.ready();

  server.on('upgrade', (req, socket, head) => {
    const url = req.url ?? '';
    if (url.startsWith(CLUSTER_PROXY_PREFIX)) kubeProxy.handleUpgrade(req, socket, head);
    else if (url.split('?')[0] === AGENT_CONNECT_PATH) {
      handleAgentUpgrade(req, socket, head).catch((err: unknown) => {
        log.error({ err }, 'agent connection failed');
        socket.destroy();
      });
    } else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  const port = Number(config.listen.slice(config.listen.lastIndexOf(':') + 1));
  await app.listen({ host: listenHost, port });
  const bound = (server.address() as AddressInfo).port;
  const url = port === 0 ? config.publicUrl.replace(/:\d+$/, `:${bound}`) : config.publicUrl;
  log.info({ url, listen: `${listenHost}:${bound}` }, 'controller listening');

  return {
    url,
    caCertPem: tls.caCertPem,
    adminTokenCreated: admin.created,
    registry,
    tunnels,
    log,
    close: async () => {
      tunnels.closeAll('controller shutting down');
      server.closeAllConnections();
      await app.close();
      await db.destroy();
    },
  };
}
