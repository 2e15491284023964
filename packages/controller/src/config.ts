import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { PRODUCT_VERSION } from '@ztka/protocol';

/** The controller's one configuration schema: flags, environment and file all land here and are checked once. */
export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, description: 'directory for the database and TLS material' }),
    listen: Type.String({ pattern: '^[^\\s]*:\\d{1,5}$', description: 'host:port to serve HTTPS on' }),
    publicUrl: Type.String({
      pattern: '^https://[^\\s/]+(/[^\\s]*)?$',
      description: 'URL users and agents reach',
    }),
    tlsCertFile: Type.Optional(Type.String({ minLength: 1 })),
    tlsKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    tlsCaFile: Type.Optional(Type.String({ minLength: 1 })),
    logLevel: Type.Union(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => Type.Literal(l))),
    bootstrapTokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 30 * 24 * 3600 }),
    agentPingIntervalMs: Type.Integer({ minimum: 100, maximum: 300_000 }),
    kubectlPath: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'the kubectl the browser shell runs (default /usr/bin/kubectl)',
      }),
    ),
    webRoot: Type.Optional(
      Type.String({ minLength: 1, description: 'the built web console (default: packages/web/dist)' }),
    ),
    database: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'a postgres:// URL, or a SQLite file (default <dataDir>/ztka.db)',
      }),
    ),
    auditRetentionDays: Type.Integer({
      minimum: 0,
      maximum: 36_500,
      description: 'days audit records are kept (0: forever); older ones are pruned daily',
    }),
    auditWebhookUrl: Type.Optional(
      Type.String({ pattern: '^https?://', description: 'receives every audit record as JSON lines' }),
    ),
    kubeTokenTtlSeconds: Type.Integer({
      minimum: 1,
      maximum: 900,
      description: 'lifetime of kube tokens from /v1/tokens (the exec-credential plugin), at most 15 min',
    }),
    agentImage: Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'agent image in bootstrap manifests',
    }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

const DEFAULTS = {
  dataDir: './ztka-data',
  listen: '0.0.0.0:8443',
  logLevel: 'info',
  bootstrapTokenTtlSeconds: 24 * 3600,
  agentPingIntervalMs: 15_000,
  kubeTokenTtlSeconds: 900,
  auditRetentionDays: 365,
  agentImage: `ztka/agent:${PRODUCT_VERSION}`,
} as const;

/** Flag name, environment variable and config key of each setting. */
const SETTINGS = [
  ['data-dir', 'ZTKA_DATA_DIR', 'dataDir'],
  ['listen', 'ZTKA_LISTEN', 'listen'],
  ['public-url', 'ZTKA_PUBLIC_URL', 'publicUrl'],
  ['tls-cert-file', 'ZTKA_TLS_CERT_FILE', 'tlsCertFile'],
  ['tls-key-file', 'ZTKA_TLS_KEY_FILE', 'tlsKeyFile'],
  ['tls-ca-file', 'ZTKA_TLS_CA_FILE', 'tlsCaFile'],
  ['log-level', 'ZTKA_LOG_LEVEL', 'logLevel'],
  ['bootstrap-token-ttl-seconds', 'ZTKA_BOOTSTRAP_TOKEN_TTL_SECONDS', 'bootstrapTokenTtlSeconds'],
  ['agent-ping-interval-ms', 'ZTKA_AGENT_PING_INTERVAL_MS', 'agentPingIntervalMs'],
  ['kube-token-ttl-seconds', 'ZTKA_KUBE_TOKEN_TTL_SECONDS', 'kubeTokenTtlSeconds'],
  ['database', 'ZTKA_DATABASE', 'database'],
  ['web-root', 'ZTKA_WEB_ROOT', 'webRoot'],
  ['kubectl-path', 'ZTKA_KUBECTL_PATH', 'kubectlPath'],
  ['audit-retention-days', 'ZTKA_AUDIT_RETENTION_DAYS', 'auditRetentionDays'],
  ['audit-webhook-url', 'ZTKA_AUDIT_WEBHOOK_URL', 'auditWebhookUrl'],
  ['agent-image', 'ZTKA_AGENT_IMAGE', 'agentImage'],
] as const;

const INTEGER_KEYS = new Set<string>([
  'auditRetentionDays',
  'bootstrapTokenTtlSeconds',
  'agentPingIntervalMs',
  'kubeTokenTtlSeconds',
]);

export class ConfigError extends Error {}

/**
 * Builds the configuration from (lowest to highest precedence) defaults, a YAML/JSON file (`--config`),
 * environment variables and flags, and validates it; every problem is reported at once, by setting name.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      ...Object.fromEntries(SETTINGS.map(([flag]) => [flag, { type: 'string' as const }])),
    },
    strict: true,
  });
  const file = values.config ?? env['ZTKA_CONFIG'];
  const fromFile: Record<string, unknown> = file ? readConfigFile(file) : {};
  const merged: Record<string, unknown> = { ...DEFAULTS, ...fromFile };
  for (const [flag, envName, key] of SETTINGS) {
    const raw = (values as Record<string, string | undefined>)[flag] ?? env[envName];
    if (raw === undefined) continue;
    merged[key] = INTEGER_KEYS.has(key) && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  if (merged['publicUrl'] === undefined) {
    const port = String(merged['listen']).split(':').pop();
    merged['publicUrl'] = `https://127.0.0.1:${port}`;
  }
  if ((merged['tlsCertFile'] === undefined) !== (merged['tlsKeyFile'] === undefined)) {
    throw new ConfigError('invalid configuration: tlsCertFile and tlsKeyFile must be given together');
  }
  const errors = [...Value.Errors(ConfigSchema, merged)];
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.path.slice(1) || '(root)'}: ${e.message}`);
    throw new ConfigError(`invalid configuration:\n${[...new Set(lines)].join('\n')}`);
  }
  const config = merged as Config;
  return { ...config, dataDir: path.resolve(config.dataDir) };
}

function readConfigFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(
      `cannot read config file ${file}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must hold a mapping of settings`);
  }
  return parsed as Record<string, unknown>;
}
