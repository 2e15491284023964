#!/usr/bin/env node
// ztka-agent: dials out to the controller and serves the kube API requests that arrive through the tunnel.
import fs from 'node:fs/promises';
import { pino } from 'pino';
import { CONTROL_HEADER, PRODUCT_VERSION, protectedNamespaces, SessionStreams } from '@ztka/protocol';
import { clusterInfo } from './cluster-info.js';
import { AgentConfigError, agentUsage, loadAgentConfig, type AgentConfig } from './config.js';
import { createForwarder } from './forward.js';
import { fileStore, obtainCredential, secretStore } from './register.js';
import { TunnelClient } from './tunnel-client.js';
import { asPerson, kubeconfigCredentials, withToken } from './upstream.js';
import { failureOf } from './jit/kube-apis.js';
import { createControlHandler } from './control.js';
import { JitServiceAccounts } from './jit/service-accounts.js';

async function main(): Promise<void> {
  let command;
  try {
    command = loadAgentConfig(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof AgentConfigError)) throw err;
    console.error(`ztka-agent: ${err.message}\n\n${agentUsage()}`);
    process.exitCode = 2;
    return;
  }
  if (command.kind === 'version') return void console.log(`ztka-agent ${PRODUCT_VERSION}`);
  if (command.kind === 'help') return void console.log(agentUsage());
  await run(command.config);
}

async function run(config: AgentConfig): Promise<void> {
  const { controllerUrl, jitNamespace, transport } = config;
  const log = pino({ name: 'ztka-agent', level: config.logLevel });
  const ca = await fs.readFile(config.caFile, 'utf8');
  const access = await kubeconfigCredentials(config.kubeconfig, { http2: !config.apiserverHttp1 });
  const own = await access.own();
  const jit = new JitServiceAccounts({
    own: () => access.own(),
    asAccount: (token) => withToken(access, token),
    namespace: jitNamespace,
    log,
  });
  const credentials = asPerson(access, (identity) => jit.tokenFor(identity));
  const info = await clusterInfo(own);
  const secret = config.credentialSecret;
  const store = secret ? secretStore(own, secret.namespace, secret.name) : fileStore(config.credentialFile);
  const { credential, privateKey } = await obtainCredential({
    controllerUrl,
    ca,
    store,
    bootstrapToken: config.bootstrapToken,
    identity: info.identity,
    warn: (message) => log.warn(message),
  });
  log.info({ kubeVersion: info.kubeVersion, identity: info.identity }, 'starting');
  const forward = createForwarder(credentials, log, protectedNamespaces(jitNamespace));
  const proxied = new SessionStreams();
  const control = createControlHandler(jit, log, proxied);
  const sweeper = setInterval(() => {
    jit.sweep().catch((err: unknown) => log.warn({ err: failureOf(err) }, 'sweep failed'));
  }, config.sweepIntervalMs);
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
