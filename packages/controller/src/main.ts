#!/usr/bin/env node
// ztka-controller: loads and checks the configuration, then starts the server (server.ts).
import { PRODUCT_VERSION } from '@ztka/protocol';
import { ConfigError, loadConfig } from './config.js';
import { startController } from './server.js';

const usage = `Usage: ztka-controller [options]

  --data-dir DIR          database and TLS material (default ./ztka-data)      ZTKA_DATA_DIR
  --listen HOST:PORT      where to serve HTTPS (default 0.0.0.0:8443)          ZTKA_LISTEN
  --public-url URL        the URL users and agents reach                        ZTKA_PUBLIC_URL
  --tls-cert-file FILE    serving certificate (default: generated, own CA)     ZTKA_TLS_CERT_FILE
  --tls-key-file FILE     its key                                               ZTKA_TLS_KEY_FILE
  --tls-ca-file FILE      CA that agents should trust for it                    ZTKA_TLS_CA_FILE
  --log-level LEVEL       trace, debug, info, warn, error                       ZTKA_LOG_LEVEL
  --kube-token-ttl-seconds N  lifetime of exec-credential tokens (<= 900)      ZTKA_KUBE_TOKEN_TTL_SECONDS
  --database TARGET       postgres:// URL or SQLite file (default <data-dir>/ztka.db)  ZTKA_DATABASE
  --audit-retention-days N  keep audit records N days, 0 = forever (default 365)  ZTKA_AUDIT_RETENTION_DAYS
  --audit-webhook-url URL   send every audit record there as JSON lines         ZTKA_AUDIT_WEBHOOK_URL
  --config FILE           YAML or JSON file with the same settings (camelCase)  ZTKA_CONFIG
  --version, --help

On first start the org "default" and user "admin" are created; the admin's password is taken from
ZTKA_ADMIN_PASSWORD or generated and printed once.`;

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--version')) return void console.log(`ztka-controller ${PRODUCT_VERSION}`);
  if (argv.includes('--help') || argv.includes('-h')) return void console.log(usage);
  const config = loadConfig(argv);
  const server = await startController(config);
  if (server.adminPasswordCreated) {
    // Shown once: only its hash is stored.
    console.error(
      `\nFirst admin created. Username: admin  Password (shown only now): ${server.adminPasswordCreated}\n`,
    );
  }
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(
    `ztka-controller: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}`,
  );
  process.exitCode = err instanceof ConfigError ? 2 : 1;
});
