#!/usr/bin/env node
// ztka-agent: dials out to the controller and serves the kube API requests that arrive through the tunnel.
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import {
  CONTROL_HEADER,
  PRODUCT_VERSION,
  SYSTEM_NAMESPACE,
  TUNNEL_TRANSPORTS,
  isDnsLabel,
  isTunnelTransport,
  protectedNamespaces,
  SessionStreams,
} from '@ztka/protocol';
import { clusterInfo } from './cluster-info.js';
import { createForwarder } from './forward.js';
import { fileStore, obtainCredential, secretStore } from './register.js';
import { TunnelClient } from './tunnel-client.js';
import { asPerson, kubeconfigCredentials, withToken } from './upstream.js';
import { createControlHandler } from './control.js';
import { JitServiceAccounts } from './jit/service-accounts.js';

const usage = `Usage: ztka-agent --controller-url URL --ca-file FILE [options]

Runs inside a cluster (or beside it with --kubeconfig), dials out to the ztka
controller and serves the kube API requests that arrive through that tunnel.

  --controller-url URL     the controller, e.g. https://ztka.example.com   (ZTKA_CONTROLLER_URL)
  --ca-file FILE           the controller's CA certificate                  (ZTKA_CA_FILE)
  --bootstrap-token TOKEN  single-use registration token                    (ZTKA_BOOTSTRAP_TOKEN)
  --credential-file FILE   where the agent keeps its credential and key     (ZTKA_CREDENTIAL_FILE)
  --credential-secret NS/NAME  keep them in this Secret instead (in-cluster) (ZTKA_CREDENTIAL_SECRET)
  --kubeconfig FILE        reach the cluster with this kubeconfig instead of in-cluster config
  --jit-namespace NS       where people's service accounts live (default ztka-system)   (ZTKA_JIT_NAMESPACE)
  --sweep-interval-ms N    how often expired service accounts are removed (default 60000) (ZTKA_SWEEP_INTERVAL_MS)
  --transport h2|websocket how the tunnel rides the connection: h2 (default, fastest) or
                           websocket, for egress proxies that pass WebSocket only  (ZTKA_TRANSPORT)
  --apiserver-http1        speak HTTP/1.1 to the kube-apiserver even when it offers HTTP/2
                           (for a proxy in front of it that mishandles HTTP/2)    (ZTKA_APISERVER_HTTP1=true)
  --log-level LEVEL        trace, debug, info (default), warn, error
  --version, --help`;

const { values } = parseArgs({
  options: {
    'controller-url': { type: 'string' },
    'ca-file': { type: 'string' },
    'bootstrap-token': { type: 'string' },
    'credential-file': { type: 'string' },
    'credential-secret': { type: 'string' },
    kubeconfig: { type: 'string' },
    'jit-namespace': { type: 'string' },
    'sweep-interval-ms': { type: 'string' },
    transport: { type: 'string' },
    'apiserver-http1': { type: 'boolean' },
    'log-level': { type: 'string' },
    version: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

async function main(): Promise<void> {
  if (values.version) return void console.log(`ztka-agent ${PRODUCT_VERSION}`);
  if (values.help) return void console.log(usage);
  const env = process.env;
  const controllerUrl = values['controller-url'] ?? env['ZTKA_CONTROLLER_URL'];
  const caFile = values['ca-file'] ?? env['ZTKA_CA_FILE'];
  if (!controllerUrl || !caFile) {
    console.error(`ztka-agent: --controller-url and --ca-file are required\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  const log = pino({ name: 'ztka-agent', level: values['log-level'] ?? env['ZTKA_LOG_LEVEL'] ?? 'info' });
  const ca = await fs.readFile(caFile, 'utf8');
  const access = await kubeconfigCredentials(values.kubeconfig ?? env['KUBECONFIG'], {
    http2: !(values['apiserver-http1'] ?? env['ZTKA_APISERVER_HTTP1'] === 'true'),
  });
  const own = await access.own();
  const sweepMs = Number(values['sweep-interval-ms'] ?? env['ZTKA_SWEEP_INTERVAL_MS'] ?? 60_000);
  if (!Number.isSafeInteger(sweepMs) || sweepMs < 100)
    throw new Error('--sweep-interval-ms must be an integer ≥ 100');
  const transport = values.transport ?? env['ZTKA_TRANSPORT'] ?? 'h2';
  if (!isTunnelTransport(transport))
    throw new Error(`--transport must be one of ${Object.keys(TUNNEL_TRANSPORTS).join(', ')}`);
  const jitNamespace = values['jit-namespace'] ?? env['ZTKA_JIT_NAMESPACE'] ?? SYSTEM_NAMESPACE;
  if (!isDnsLabel(jitNamespace))
    throw new Error(`--jit-namespace must be a DNS-1123 label, not "${jitNamespace}"`);
  const jit = new JitServiceAccounts({
    own: () => access.own(),
    asAccount: (token) => withToken(access, token),
    namespace: jitNamespace,
    log,
  });
  const credentials = asPerson(access, (identity) => jit.tokenFor(identity));
  const info = await clusterInfo(own);
  const secret = values['credential-secret'] ?? env['ZTKA_CREDENTIAL_SECRET'];
  const [secretNs, secretName] = secret?.split('/') ?? [];
  if (secret && (!secretNs || !secretName))
    throw new Error(`--credential-secret must be NAMESPACE/NAME, not "${secret}"`);
  const store =
    secretNs && secretName
      ? secretStore(own, secretNs, secretName)
      : fileStore(values['credential-file'] ?? env['ZTKA_CREDENTIAL_FILE'] ?? '/var/run/ztka/credential');
  const { credential, privateKey } = await obtainCredential({
    controllerUrl,
    ca,
    store,
    bootstrapToken: values['bootstrap-token'] ?? env['ZTKA_BOOTSTRAP_TOKEN'],
    identity: info.identity,
    warn: (message) => log.warn(message),
  });
  log.info({ kubeVersion: info.kubeVersion, identity: info.identity }, 'starting');
  const forward = createForwarder(credentials, log, protectedNamespaces(jitNamespace));
  const proxied = new SessionStreams();
  const control = createControlHandler(jit, log, proxied);
  const sweeper = setInterval(() => {
    jit
      .sweep()
      .catch((err: unknown) =>
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'sweep failed'),
      );
  }, sweepMs);
  const client = new TunnelClient({
    controllerUrl,
    ca,
    credential,
    privateKey,
    agentVersion: PRODUCT_VERSION,
    kubeVersion: info.kubeVersion,
    clusterIdentity: info.identity,
    jitNamespace,
    transport,
    onStream: (stream, headers) => {
      if (headers[CONTROL_HEADER]) return void control(stream, headers);
      proxied.track(stream);
      void forward(stream, headers);
    },
    log,
  });
  client.start();
  const stop = () => {
    clearInterval(sweeper);
    client.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`ztka-agent: ${err instanceof Error ? err.message : String(err)}`);
  // At once: the kept-alive connections to the apiserver would hold a failed start for a minute, saying
  // nothing, before its pod restarts.
  process.exit(1);
});
