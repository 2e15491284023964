// The agent's one configuration schema: every setting's flag, environment variable, description, default and
// check live here, and both `--help` and the loader are made from it, so no setting can be read that the
// help does not show, nor shown without being read.
import { parseArgs } from 'node:util';
import {
  SYSTEM_NAMESPACE,
  TUNNEL_TRANSPORTS,
  isDnsLabel,
  isTunnelTransport,
  type TunnelTransport,
} from '@ztka/protocol';

export interface AgentConfig {
  controllerUrl: string;
  caFile: string;
  bootstrapToken: string | undefined;
  credentialFile: string;
  credentialSecret: { namespace: string; name: string } | undefined;
  kubeconfig: string | undefined;
  jitNamespace: string;
  sweepIntervalMs: number;
  transport: TunnelTransport;
  apiserverHttp1: boolean;
  logLevel: LogLevel;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

interface Setting<T> {
  flag: string;
  env: string;
  /** What the value is called in `--help`; a setting without one is a switch (`--flag`, or env `true`). */
  arg?: string;
  description: string;
  /** What a setting that is not given is; a setting with neither this nor `required` is undefined. */
  fallback?: T;
  required?: true;
  /** The value of a given setting; throws an Error saying what is wrong with it. */
  parse(raw: string): T;
}

type Schema = { [K in keyof AgentConfig]-?: Setting<Exclude<AgentConfig[K], undefined>> };

const text = (raw: string) => {
  if (raw === '') throw new Error('must not be empty');
  return raw;
};
const oneOf =
  <T extends string>(values: readonly T[]) =>
  (raw: string): T => {
    const found = values.find((v) => v === raw);
    if (found === undefined) throw new Error(`must be one of ${values.join(', ')}, not "${raw}"`);
    return found;
  };

export const AGENT_SETTINGS: Schema = {
  controllerUrl: {
    flag: 'controller-url',
    env: 'ZTKA_CONTROLLER_URL',
    arg: 'URL',
    description: 'the controller, e.g. https://ztka.example.com',
    required: true,
    parse: (raw) => {
      if (!URL.canParse(raw)) throw new Error(`must be a URL, not "${raw}"`);
      return raw;
    },
  },
  caFile: {
    flag: 'ca-file',
    env: 'ZTKA_CA_FILE',
    arg: 'FILE',
    description: "the controller's CA certificate",
    required: true,
    parse: text,
  },
  bootstrapToken: {
    flag: 'bootstrap-token',
    env: 'ZTKA_BOOTSTRAP_TOKEN',
    arg: 'TOKEN',
    description: 'single-use registration token',
    parse: text,
  },
  credentialFile: {
    flag: 'credential-file',
    env: 'ZTKA_CREDENTIAL_FILE',
    arg: 'FILE',
    description: 'where the agent keeps its credential and key',
    fallback: '/var/run/ztka/credential',
    parse: text,
  },
  credentialSecret: {
    flag: 'credential-secret',
    env: 'ZTKA_CREDENTIAL_SECRET',
    arg: 'NS/NAME',
    description: 'keep them in this Secret instead (in-cluster)',
    parse: (raw) => {
      const [namespace, name, ...rest] = raw.split('/');
      if (!namespace || !name || rest.length > 0) throw new Error(`must be NAMESPACE/NAME, not "${raw}"`);
      return { namespace, name };
    },
  },
  kubeconfig: {
    flag: 'kubeconfig',
    env: 'KUBECONFIG',
    arg: 'FILE',
    description: 'reach the cluster with this kubeconfig instead of in-cluster config',
    parse: text,
  },
  jitNamespace: {
    flag: 'jit-namespace',
    env: 'ZTKA_JIT_NAMESPACE',
    arg: 'NS',
    description: "where people's service accounts live",
    fallback: SYSTEM_NAMESPACE,
    parse: (raw) => {
      if (!isDnsLabel(raw)) throw new Error(`must be a DNS-1123 label, not "${raw}"`);
      return raw;
    },
  },
  sweepIntervalMs: {
    flag: 'sweep-interval-ms',
    env: 'ZTKA_SWEEP_INTERVAL_MS',
    arg: 'N',
    description: 'how often expired service accounts are removed',
    fallback: 60_000,
    parse: (raw) => {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 100)
        throw new Error(`must be an integer ≥ 100, not "${raw}"`);
      return n;
    },
  },
  transport: {
    flag: 'transport',
    env: 'ZTKA_TRANSPORT',
    arg: Object.keys(TUNNEL_TRANSPORTS).join('|'),
    description:
      'how the tunnel rides the connection: h2 (fastest) or websocket, for egress proxies that pass WebSocket only',
    fallback: 'h2',
    parse: (raw) => {
      if (!isTunnelTransport(raw))
        throw new Error(`must be one of ${Object.keys(TUNNEL_TRANSPORTS).join(', ')}, not "${raw}"`);
      return raw;
    },
  },
  apiserverHttp1: {
    flag: 'apiserver-http1',
    env: 'ZTKA_APISERVER_HTTP1',
    description:
      'speak HTTP/1.1 to the kube-apiserver even when it offers HTTP/2 (for a proxy in front of it that mishandles HTTP/2)',
    fallback: false,
    parse: (raw) => raw === 'true',
  },
  logLevel: {
    flag: 'log-level',
    env: 'ZTKA_LOG_LEVEL',
    arg: 'LEVEL',
    description: LOG_LEVELS.join(', '),
    fallback: 'info',
    parse: oneOf(LOG_LEVELS),
  },
};

const entries = () => Object.entries(AGENT_SETTINGS) as Array<[keyof AgentConfig, Setting<unknown>]>;

/** `--help`: every setting from the schema, with its flag, variable, default and description. */
export function agentUsage(): string {
  const rows = entries().map(([, s]) => {
    const fallback =
      s.fallback === undefined || s.fallback === false ? '' : ` (default ${String(s.fallback)})`;
    const env = s.arg === undefined ? `${s.env}=true` : s.env;
    return `  --${s.flag}${s.arg === undefined ? '' : ` ${s.arg}`}\n      ${s.description}${fallback}  [${env}]`;
  });
  return [
    'Usage: ztka-agent --controller-url URL --ca-file FILE [options]',
    '',
    'Runs inside a cluster (or beside it with --kubeconfig), dials out to the ztka',
    'controller and serves the kube API requests that arrive through that tunnel.',
    '',
    ...rows,
    '  --version, --help',
  ].join('\n');
}

export class AgentConfigError extends Error {}

/** parseArgs, its refusals (an unknown flag, a missing value) turned into an AgentConfigError. */
const parseArgsOrExplain: typeof parseArgs = (config) => {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new AgentConfigError((err as Error).message);
  }
};

export type AgentCommand = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: AgentConfig };

/**
 * What the command line asks for: help, the version, or a run with the configuration built from flags over
 * environment variables over defaults. Every problem is reported at once, by flag.
 */
export function loadAgentConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentCommand {
  const { values } = parseArgsOrExplain({
    args: argv,
    options: {
      ...Object.fromEntries(
        entries().map(([, s]) => [
          s.flag,
          { type: s.arg === undefined ? ('boolean' as const) : ('string' as const) },
        ]),
      ),
      version: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const given: Record<string, string | boolean | undefined> = values;
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of entries()) {
    const flag = given[s.flag];
    // An empty variable is one a template left unset (a Helm value of '').
    const raw = flag === true ? 'true' : typeof flag === 'string' ? flag : env[s.env] || undefined;
    if (raw === undefined) {
      if (s.required) problems.push(`--${s.flag} is required`);
      config[key] = s.fallback;
      continue;
    }
    try {
      config[key] = s.parse(raw);
    } catch (err) {
      problems.push(`--${s.flag} ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new AgentConfigError(problems.join('\n'));
  return { kind: 'run', config: config as unknown as AgentConfig };
}
