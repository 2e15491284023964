#!/usr/bin/env node
// A real OpenID Provider (the oidc-provider library) for tests of ztka's single sign-on:
//
//   node testenv/dist/oidc-provider/main.js --state-dir DIR [--port N]
//
// serves HTTPS on 127.0.0.1 (port 0, the default, picks a free one) with issuer https://127.0.0.1:<port>.
// DIR holds config.json (clients and token lifetimes, read at start) and users.json (read at every login and
// claims lookup); the provider adds tls/ (its CA, tls/ca.crt, and serving certificate), keys.json (cookie
// keys and signing keys) and store.json (sessions, grants and tokens), all reused on the next start.
// SIGHUP puts a new signing key in front of the JWKS, keeping the old ones for verification.
// stdout carries JSON lines only: {"issuer","caFile","port","pid"} once ready, {"rotated": kid} after each
// SIGHUP. Logs go to stderr; SIGTERM and SIGINT stop it.
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type Provider from 'oidc-provider';
import { readConfig } from './config.js';
import { handleInteraction } from './interactions.js';
import { loadOrCreateKeys, rotateSigningKey, type ProviderKeys } from './keys.js';
import { buildProvider, type ProviderSetup } from './provider.js';
import { FileStore } from './store.js';
import { ensureTls } from './tls.js';

const log = (line: string): void => {
  process.stderr.write(`oidc-provider: ${line}\n`);
};
const emit = (value: object) => process.stdout.write(JSON.stringify(value) + '\n');
// oidc-provider prints its notices with console.info; stdout is kept for the lines above.
console.info = console.log = (...args: unknown[]) => log(args.map(String).join(' '));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'state-dir': { type: 'string' }, port: { type: 'string', default: '0' } },
    strict: true,
  });
  const stateDir = values['state-dir'];
  if (!stateDir) throw new Error('--state-dir DIR is required');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port ${values.port}: not a port`);

  const [tls, config, initialKeys] = await Promise.all([
    ensureTls(stateDir),
    readConfig(stateDir),
    loadOrCreateKeys(stateDir),
  ]);
  const store = new FileStore(stateDir);
  const [key, cert] = await Promise.all([fs.readFile(tls.keyFile), fs.readFile(tls.certFile)]);

  let provider: Provider | undefined;
  let callback: ReturnType<Provider['callback']> | undefined;
  const server = https.createServer({ key, cert }, (req, res) => {
    if (!provider || !callback) {
      res.writeHead(503).end();
      return;
    }
    const current = provider;
    const currentCallback = callback;
    handleInteraction(current, stateDir, req, res)
      .then(async (handled) => {
        if (!handled) await currentCallback(req, res);
      })
      .catch((err: unknown) => {
        log(`${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('the request could not be completed\n');
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  const issuer = `https://127.0.0.1:${address.port}`;

  const setup: Omit<ProviderSetup, 'keys'> = { issuer, stateDir, config, store, log };
  const install = (keys: ProviderKeys) => {
    provider = buildProvider({ ...setup, keys });
    callback = provider.callback();
  };
  install(initialKeys);

  // A new Provider object, since oidc-provider reads its keys once; sessions and tokens live in the store,
  // which the new one shares. Signals that arrive during a rotation wait their turn.
  let rotation = Promise.resolve();
  process.on('SIGHUP', () => {
    rotation = rotation
      .then(async () => {
        const keys = await rotateSigningKey(stateDir);
        install(keys);
        const kid = keys.jwks.keys[0]?.kid;
        log(`signing with the new key ${kid}`);
        emit({ rotated: kid });
      })
      .catch((err: unknown) => log(`key rotation failed: ${String(err)}`));
  });

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  log(`issuer ${issuer}, state in ${path.resolve(stateDir)}`);
  emit({ issuer, caFile: path.resolve(tls.caFile), port: address.port, pid: process.pid });
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
