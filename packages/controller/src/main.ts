#!/usr/bin/env node
// ztka-controller: loads and checks the configuration, then starts the server (server.ts).
import { PRODUCT_VERSION } from '@ztka/protocol';
import { ConfigError, loadConfig, usage } from './config.js';
import { startController } from './server.js';

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--version')) return void console.log(`ztka-controller ${PRODUCT_VERSION}`);
  if (argv.includes('--help') || argv.includes('-h')) return void console.log(usage());
  const config = loadConfig(argv);
  const server = await startController(config);
  if (server.adminPasswordCreated) {
    // Shown once: only its hash is stored.
    console.error(
      `\nFirst admin created. Username: admin  Password (shown only now): ${server.adminPasswordCreated}\n`,
    );
  }
  let stopping = false;
  const stop = () => {
    // One shutdown: a terminal's Ctrl-C reaches every process of its group and supervisors repeat their
    // SIGTERM, and a second close() over the first would cut the drain short.
    if (stopping) return;
    stopping = true;
    void server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(
          `ztka-controller: shutdown failed: ${err instanceof Error ? err.message : String(err)}`,
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(
    `ztka-controller: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}`,
  );
  process.exitCode = err instanceof ConfigError ? 2 : 1;
});
