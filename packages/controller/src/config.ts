import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { MAX_KUBE_TOKEN_TTL_SECONDS, PRODUCT_VERSION } from '@ztka/protocol';
import { parseTrustedProxies } from './http/proxy-listener.js';

/** The controller's one configuration schema: flags, environment and file all land here and are checked once. */
export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({
      minLength: 1,
      default: './ztka-data',
      description: 'directory for the database and TLS material',
    }),
    listen: Type.String({
      pattern: '^[^\\s]*:\\d{1,5}$',
      default: '0.0.0.0:8443',
      description: 'host:port to serve HTTPS on',
    }),
    publicUrl: Type.String({
      pattern: '^https://[^\\s/]+(/[^\\s]*)?$',
      description: 'URL users and agents reach',
    }),
    tlsCertFile: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'serving certificate (default: generated, signed by its own CA)',
      }),
    ),
    tlsKeyFile: Type.Optional(Type.String({ minLength: 1, description: "the serving certificate's key" })),
    tlsCaFile: Type.Optional(Type.String({ minLength: 1, description: 'the CA agents should trust for it' })),
    logLevel: Type.Union(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'trace, debug, info, warn, error or fatal' },
    ),
    bootstrapTokenTtlSeconds: Type.Integer({
      minimum: 60,
      maximum: 30 * 24 * 3600,
      default: 24 * 3600,
      description: 'lifetime of bootstrap tokens for registering agents (seconds)',
    }),
    agentPingIntervalMs: Type.Integer({
      minimum: 100,
      maximum: 300_000,
      default: 3_000,
      description: 'how often the tunnel to each agent is pinged (ms)',
    }),
    agentPingTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 300_000,
      default: 3_000,
      description:
        'a ping unanswered this long ends the tunnel and fails its requests, unless its data keeps arriving (ms)',
    }),
    kubectlPath: Type.String({
      minLength: 1,
      default: '/usr/bin/kubectl',
      description: 'the kubectl the browser shell runs',
    }),
    shellBwrapPath: Type.String({
      minLength: 1,
      default: '/usr/bin/bwrap',
      description: "bubblewrap, the browser shell's sandbox (Debian package bubblewrap)",
    }),
    shellWorkRoot: Type.Optional(
      Type.String({
        minLength: 1,
        description: "parent of the shells' session directories (default: TMPDIR)",
      }),
    ),
    shellUidBase: Type.Integer({
      minimum: 1000,
      maximum: 2_147_000_000, // bubblewrap reads uids as signed 32-bit numbers
      default: 2_000_000_000,
      description: 'each open shell runs as its own user, uid base+1 … base+shell-max-total',
    }),
    shellMaxPerUser: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 3,
      description: 'open shells per person',
    }),
    shellMaxTotal: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 100,
      description: 'open shells per controller',
    }),
    shellMemoryMb: Type.Integer({
      minimum: 64,
      maximum: 65_536,
      default: 512,
      description: 'memory of each shell (MiB)',
    }),
    shellTasks: Type.Integer({
      minimum: 16,
      maximum: 65_536,
      default: 256,
      description: 'processes and threads of each shell',
    }),
    shellCpuPercent: Type.Integer({
      minimum: 5,
      maximum: 6400,
      default: 100,
      description: 'CPU of each shell, in percent of one core',
    }),
    shellCpuSeconds: Type.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 600,
      description: 'CPU time of each process in a shell (seconds)',
    }),
    shellFileMb: Type.Integer({
      minimum: 1,
      maximum: 65_536,
      default: 100,
      description:
        'largest file a shell may write, and the size of its /tmp and of its session directory (MiB)',
    }),
    shellCommandTimeoutSeconds: Type.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 3600,
      description: 'wall time of one shell command before it is stopped (seconds)',
    }),
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
      default: 365,
      description: 'days audit records are kept (0: forever); older ones are pruned hourly',
    }),
    auditKeyFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Ed25519 key that signs audit checkpoints, never stored in the database (default <dataDir>/keys/audit-signing.key, created 0600 if missing)',
      }),
    ),
    secretsKeyFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'AES-256 key sealing the secrets the controller must reuse (OpenID client secrets, refresh tokens, TOTP seeds); never stored in the database; replicas share it (default <dataDir>/keys/secrets.key, created 0600 if missing)',
      }),
    ),
    auditCheckpointFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'append-only file of signed audit checkpoints; keep it where the database writer cannot rewrite it (default <dataDir>/audit-checkpoints.jsonl)',
      }),
    ),
    auditCheckpointIntervalSeconds: Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: 10,
      description: 'how often the head of each audit chain that moved is signed into the checkpoint file',
    }),
    auditWebhookUrl: Type.Optional(
      Type.String({ pattern: '^https?://', description: 'receives every audit record as JSON lines' }),
    ),
    kubeTokenTtlSeconds: Type.Integer({
      minimum: 1,
      maximum: MAX_KUBE_TOKEN_TTL_SECONDS,
      default: MAX_KUBE_TOKEN_TTL_SECONDS,
      description: 'lifetime of kube tokens from /v1/tokens (the exec-credential plugin), at most 15 min',
    }),
    metricsTokenFile: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'a file holding the bearer token scrapers send to /metrics (32+ characters); without it /metrics is not served',
      }),
    ),
    shutdownGraceSeconds: Type.Integer({
      minimum: 0,
      maximum: 3600,
      default: 10,
      description:
        'on SIGTERM, how long requests in flight may take to finish (watches and exec sessions end at once, so clients reconnect)',
    }),
    shutdownDelaySeconds: Type.Integer({
      minimum: 0,
      maximum: 300,
      default: 0,
      description:
        'on SIGTERM, how long /readyz answers 503 while everything else is still served, so a load balancer stops sending new connections before the listener closes',
    }),
    proxyProtocolFrom: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'load balancers, as IP addresses or CIDR blocks separated by commas: their connections must begin with a PROXY protocol header (v2 or v1) naming the client, and connections from anywhere else must not carry one (default: none, no header is accepted)',
      }),
    ),
    rateLimitPerPerson: Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 100,
      description:
        'requests per second one person may make through the kube proxy and the API, averaged over 10 s (0: no limit)',
    }),
    rateLimitPerAddress: Type.Integer({
      minimum: 0,
      maximum: 1_000_000,
      default: 10,
      description:
        'requests without a valid credential per second from one address, averaged over 10 s (0: no limit)',
    }),
    ssoRefreshSeconds: Type.Integer({
      minimum: 1,
      maximum: 86_400,
      default: 300,
      description:
        "how often the single sign-on provider is asked again about each person logged in through it: groups it no longer gives are taken away, and a refusal ends the person's session",
    }),
    peerListen: Type.Optional(
      Type.String({
        pattern: '^[^\\s]*:\\d{1,5}$',
        description:
          'host:port where other replicas on the same PostgreSQL bring requests for the tunnels this one holds (mutual TLS among replicas only); without it, this replica serves only the clusters connected to it',
      }),
    ),
    peerUrl: Type.Optional(
      Type.String({
        pattern: '^https://[^\\s/]+$',
        description:
          'the URL other replicas reach --peer-listen at (default https://<peer-listen host>:<port>; set it when that host is a wildcard)',
      }),
    ),
    agentImage: Type.String({
      minLength: 1,
      maxLength: 512,
      default: `ztka-agent:${PRODUCT_VERSION}`,
      description: 'agent image in bootstrap manifests',
    }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/** A setting as the command line and the environment name it, both derived from its key in the schema. */
export interface Setting {
  key: keyof Config;
  /** `--shell-max-total` for shellMaxTotal. */
  flag: string;
  /** `ZTKA_SHELL_MAX_TOTAL` for shellMaxTotal. */
  env: string;
  description: string;
  default: unknown;
  /** A flag's or variable's digits become a number. */
  integer: boolean;
}

/** Every setting, in the schema's order: what `--help`, the flags and the environment are made from. */
export const SETTINGS: readonly Setting[] = Object.entries(ConfigSchema.properties).map(([key, schema]) => {
  const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const {
    description = '',
    default: fallback,
    type,
  } = schema as {
    description?: string;
    default?: unknown;
    type?: unknown;
  };
  return {
    key: key as keyof Config,
    flag,
    env: `ZTKA_${flag.replaceAll('-', '_').toUpperCase()}`,
    description,
    default: fallback,
    integer: type === 'integer',
  };
});

const DEFAULTS: Record<string, unknown> = Object.fromEntries(
  SETTINGS.filter((s) => s.default !== undefined).map((s) => [s.key, s.default]),
);

/** `--help`: every setting from the schema, with its flag, variable, default and description. */
export function usage(): string {
  const rows = SETTINGS.map((s) => {
    const text = `${s.description}${s.default === undefined ? '' : ` (default ${String(s.default)})`}`;
    return `  --${s.flag} VALUE\n      ${text}  [${s.env}]`;
  });
  return [
    'Usage: ztka-controller [options]',
    '',
    ...rows,
    '  --config FILE\n      a YAML or JSON file with the same settings, by their camelCase names  [ZTKA_CONFIG]',
    '  --version, --help',
    '',
    'On first start the org "default" and user "admin" are created; the admin\'s password is taken from',
    'ZTKA_ADMIN_PASSWORD or generated and printed once.',
  ].join('\n');
}

export class ConfigError extends Error {}

/** A `host:port` setting (listen, peerListen) in its parts; a bracketed IPv6 host loses its brackets. */
export function hostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return {
    host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'),
    port: Number(address.slice(colon + 1)),
  };
}

/**
 * Builds the configuration from (lowest to highest precedence) defaults, a YAML/JSON file (`--config`),
 * environment variables and flags, and validates it; every problem is reported at once, by setting name.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      ...Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' as const }])),
    },
    strict: true,
  });
  const file = values.config ?? env['ZTKA_CONFIG'];
  const fromFile: Record<string, unknown> = file ? readConfigFile(file) : {};
  const merged: Record<string, unknown> = { ...DEFAULTS, ...fromFile };
  for (const setting of SETTINGS) {
    const raw = (values as Record<string, string | undefined>)[setting.flag] ?? env[setting.env];
    if (raw === undefined) continue;
    merged[setting.key] = setting.integer && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  if (merged['publicUrl'] === undefined) {
    merged['publicUrl'] = `https://127.0.0.1:${hostPort(String(merged['listen'])).port}`;
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
  if (config.proxyProtocolFrom !== undefined) {
    try {
      parseTrustedProxies(config.proxyProtocolFrom);
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  proxyProtocolFrom: ${(err as Error).message}`);
    }
  }
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
