// What the browser shell lets kubectl do, as an allow-list over kubectl's own grammar
// (kubectl-grammar.generated.ts): the command paths that run, and for each of them the flags that may be
// used and how their values are checked. A command, flag or output format this module does not name is
// refused, so a kubectl upgrade that adds one changes nothing until someone decides about it here.
//
// The controller runs kubectl on its own host, so everything kubectl would read or write locally must stay
// inside the session's working directory, and nothing may point kubectl at another server or identity.
import fs from 'node:fs';
import path from 'node:path';
import { COMMANDS, GLOBAL_FLAGS } from './kubectl-grammar.generated.js';
import { KUBECONFIG_FILE, KUBECONFIG_TEMP_FILE } from './work-dir.js';

/** A kubectl command line as kubectl will read it (see command-line.ts). */
export interface KubectlArgs {
  /** Canonical subcommand names, e.g. ['create', 'secret', 'generic']; [] for kubectl itself. */
  readonly path: readonly string[];
  readonly flags: readonly FlagUse[];
  /** Positional arguments, those after `--` included. */
  readonly args: readonly string[];
}

export interface FlagUse {
  /** The long name, also when given by its letter. */
  readonly name: string;
  /** As given, for messages: `-f` or `--filename`. */
  readonly as: string;
  /** A global flag rather than the command's own (`kubectl debug --profile` is debug's own). */
  readonly global: boolean;
  /** undefined when given without one (a bool, or a flag whose value is optional). */
  readonly value: string | undefined;
}

/**
 * How an allowed flag's value is checked:
 * - `path`: a local file or directory, relative and inside the working directory;
 * - `paths`: a comma-separated list of those (pflag reads such a list as CSV); `-` is stdin;
 * - `sources`: a list of `[key=]path` (`--from-file`);
 * - `format`: an output format (`-o`), see OUTPUT_FORMATS;
 * - `template`: a template, or a template file's path when `-o` is one of the *-file formats.
 */
export type ValueCheck = 'none' | 'path' | 'paths' | 'sources' | 'format' | 'template';

export type FlagPolicy =
  { readonly allowed: true; readonly check: ValueCheck } | { readonly allowed: false; readonly why: string };

const IDENTITY = 'the shell reaches only this cluster as you';
const LOCAL_STATE = "kubectl's local files are managed by the shell";
const PROGRAMS = 'it would run programs or read files on the controller';
const EDITOR = 'there is no editor; use kubectl patch, apply or replace';
const PORT = 'it would open a port on the controller';
const PLUGINS = 'plugins do not run here';

/** Flags that pick another server, credential or identity. */
const IDENTITY_FLAGS = [
  'kubeconfig',
  'server',
  'token',
  'as',
  'as-group',
  'as-uid',
  'username',
  'password',
  'user',
  'cluster',
  'context',
  'client-certificate',
  'client-key',
  'certificate-authority',
  'insecure-skip-tls-verify',
  'tls-server-name',
];
/** Flags that move kubectl's own files or settings (`kubectl debug --profile` is another flag). */
const LOCAL_STATE_FLAGS = ['cache-dir', 'profile', 'profile-output', 'kuberc'];
/** `kubectl kustomize` flags that run programs (plugins, helm, containers) or lift its file restrictions. */
const PROGRAM_FLAGS = [
  'as-current-user',
  'enable-alpha-plugins',
  'enable-exec',
  'enable-helm',
  'env',
  'helm-api-versions',
  'helm-command',
  'helm-debug',
  'helm-kube-version',
  'load-restrictor',
  'mount',
  'network',
  'network-name',
];

const ALLOWED_GLOBAL_FLAGS = [
  'namespace',
  'request-timeout',
  'v',
  'vmodule',
  'log-flush-frequency',
  'disable-compression',
  'match-server-version',
  'warnings-as-errors',
  'help',
];

/** Commands that do not run here, and why; a path refused here refuses everything below it. */
const REFUSED_COMMANDS: Readonly<Record<string, string>> = {
  proxy: PORT,
  'port-forward': PORT,
  edit: EDITOR,
  'apply edit-last-applied': EDITOR,
  config: "this shell's kubeconfig is managed by ztka",
  plugin: PLUGINS,
  krew: PLUGINS,
};

// Flag groups that many commands share, each flag meaning the same wherever it appears.
const PRINT = ['allow-missing-template-keys', 'output', 'show-managed-fields', 'template'];
const FILES = ['filename', 'kustomize', 'recursive'];
const WRITE = ['dry-run', 'field-manager'];
const CREATE = [...PRINT, ...WRITE, 'save-config', 'validate'];
const LABEL = [...PRINT, ...FILES, ...WRITE, 'all', 'all-namespaces', 'field-selector', 'list', 'local'];
const SET = [...PRINT, ...WRITE, 'all', 'filename', 'local', 'recursive'];
const ROLLOUT = [...PRINT, ...FILES, 'selector'];

/**
 * Every command path that runs here, with its own flags that may be used. A command with subcommands runs
 * only to print its help: an argument that is no subcommand is refused (`kubectl create foo` would look
 * for a plugin).
 */
const ALLOWED_COMMANDS: Readonly<Record<string, readonly string[]>> = {
  '': [],
  annotate: [...LABEL, 'overwrite', 'resource-version', 'selector'],
  'api-resources': [
    'api-group',
    'cached',
    'categories',
    'namespaced',
    'no-headers',
    'output',
    'sort-by',
    'verbs',
  ],
  'api-versions': [],
  apply: [
    ...PRINT,
    ...FILES,
    ...WRITE,
    ...['all', 'cascade', 'force', 'force-conflicts', 'grace-period', 'openapi-patch', 'overwrite', 'prune'],
    ...['prune-allowlist', 'selector', 'server-side', 'subresource', 'timeout', 'validate', 'wait'],
  ],
  'apply set-last-applied': [...PRINT, 'create-annotation', 'dry-run', 'filename'],
  'apply view-last-applied': ['all', 'filename', 'kustomize', 'output', 'recursive', 'selector'],
  attach: ['container', 'pod-running-timeout', 'quiet', 'stdin', 'tty'],
  auth: [],
  'auth can-i': ['all-namespaces', 'list', 'no-headers', 'quiet', 'subresource'],
  'auth reconcile': [...PRINT, ...FILES, 'dry-run', 'remove-extra-permissions', 'remove-extra-subjects'],
  'auth whoami': [...PRINT],
  autoscale: [...PRINT, ...FILES, ...WRITE, 'cpu-percent', 'max', 'min', 'name', 'save-config'],
  certificate: [],
  'certificate approve': [...PRINT, ...FILES, 'force'],
  'certificate deny': [...PRINT, ...FILES, 'force'],
  'cluster-info': [],
  'cluster-info dump': [
    ...['all-namespaces', 'allow-missing-template-keys', 'namespaces', 'output', 'output-directory'],
    ...['pod-running-timeout', 'show-managed-fields', 'template'],
  ],
  completion: [],
  cordon: ['dry-run', 'selector'],
  cp: ['container', 'no-preserve', 'retries'],
  create: [...CREATE, ...FILES, 'raw', 'selector', 'windows-line-endings'],
  'create clusterrole': [
    ...CREATE,
    'aggregation-rule',
    'non-resource-url',
    'resource',
    'resource-name',
    'verb',
  ],
  'create clusterrolebinding': [...CREATE, 'clusterrole', 'group', 'serviceaccount', 'user'],
  'create configmap': [...CREATE, 'append-hash', 'from-env-file', 'from-file', 'from-literal'],
  'create cronjob': [...CREATE, 'image', 'restart', 'schedule'],
  'create deployment': [...CREATE, 'image', 'port', 'replicas'],
  'create ingress': [...CREATE, 'annotation', 'class', 'default-backend', 'rule'],
  'create job': [...CREATE, 'from', 'image'],
  'create namespace': [...CREATE],
  'create poddisruptionbudget': [...CREATE, 'max-unavailable', 'min-available', 'selector'],
  'create priorityclass': [...CREATE, 'description', 'global-default', 'preemption-policy', 'value'],
  'create quota': [...CREATE, 'hard', 'scopes'],
  'create role': [...CREATE, 'resource', 'resource-name', 'verb'],
  'create rolebinding': [...CREATE, 'clusterrole', 'group', 'role', 'serviceaccount', 'user'],
  'create secret': [],
  'create secret docker-registry': [
    ...[...CREATE, 'append-hash', 'docker-email', 'docker-password', 'docker-server', 'docker-username'],
    'from-file',
  ],
  'create secret generic': [...CREATE, 'append-hash', 'from-env-file', 'from-file', 'from-literal', 'type'],
  'create secret tls': [...CREATE, 'append-hash', 'cert', 'key'],
  'create service': [],
  'create service clusterip': [...CREATE, 'clusterip', 'tcp'],
  'create service externalname': [...CREATE, 'external-name', 'tcp'],
  'create service loadbalancer': [...CREATE, 'tcp'],
  'create service nodeport': [...CREATE, 'node-port', 'tcp'],
  'create serviceaccount': [...CREATE],
  'create token': [
    ...PRINT,
    'audience',
    'bound-object-kind',
    'bound-object-name',
    'bound-object-uid',
    'duration',
  ],
  debug: [
    ...['arguments-only', 'attach', 'container', 'copy-to', 'custom', 'env', 'filename', 'image'],
    ...['image-pull-policy', 'keep-annotations', 'keep-init-containers', 'keep-labels', 'keep-liveness'],
    ...['keep-readiness', 'keep-startup', 'profile', 'quiet', 'replace', 'same-node', 'set-image'],
    ...['share-processes', 'stdin', 'target', 'tty'],
  ],
  delete: [
    ...FILES,
    ...['all', 'all-namespaces', 'cascade', 'dry-run', 'field-selector', 'force', 'grace-period'],
    ...['ignore-not-found', 'interactive', 'now', 'output', 'raw', 'selector', 'timeout', 'wait'],
  ],
  describe: [...FILES, 'all-namespaces', 'chunk-size', 'selector', 'show-events'],
  diff: [
    ...FILES,
    ...['concurrency', 'field-manager', 'force-conflicts', 'prune', 'prune-allowlist', 'selector'],
    ...['server-side', 'show-managed-fields'],
  ],
  drain: [
    ...['chunk-size', 'delete-emptydir-data', 'disable-eviction', 'dry-run', 'force', 'grace-period'],
    ...['ignore-daemonsets', 'pod-selector', 'selector', 'skip-wait-for-delete-timeout', 'timeout'],
  ],
  events: [...PRINT, 'all-namespaces', 'chunk-size', 'for', 'no-headers', 'types', 'watch'],
  exec: ['container', 'filename', 'pod-running-timeout', 'quiet', 'stdin', 'tty'],
  explain: ['api-version', 'output', 'recursive'],
  expose: [
    ...[...PRINT, ...FILES, ...WRITE, 'cluster-ip', 'external-ip', 'labels', 'load-balancer-ip', 'name'],
    ...['override-type', 'overrides', 'port', 'protocol', 'save-config', 'selector', 'session-affinity'],
    ...['target-port', 'type'],
  ],
  get: [
    ...[...PRINT, ...FILES, 'all-namespaces', 'chunk-size', 'field-selector', 'ignore-not-found'],
    ...['label-columns', 'no-headers', 'output-watch-events', 'raw', 'selector', 'server-print', 'show-kind'],
    ...['show-labels', 'sort-by', 'subresource', 'watch', 'watch-only'],
  ],
  help: [],
  kustomize: ['output'],
  label: [...LABEL, 'overwrite', 'resource-version', 'selector'],
  logs: [
    ...['all-containers', 'all-pods', 'container', 'follow', 'ignore-errors', 'limit-bytes'],
    // Asks the API server not to verify the kubelet's certificate: no credential of this shell is involved.
    'insecure-skip-tls-verify-backend',
    ...['max-log-requests', 'pod-running-timeout', 'prefix', 'previous', 'selector', 'since', 'since-time'],
    ...['tail', 'timestamps'],
  ],
  options: [],
  patch: [...PRINT, ...FILES, ...WRITE, 'local', 'patch', 'patch-file', 'subresource', 'type'],
  replace: [
    ...[...PRINT, ...FILES, ...WRITE, 'cascade', 'force', 'grace-period', 'raw', 'save-config'],
    ...['subresource', 'timeout', 'validate', 'wait'],
  ],
  rollout: [],
  'rollout history': [...ROLLOUT, 'revision'],
  'rollout pause': [...ROLLOUT, 'field-manager'],
  'rollout restart': [...ROLLOUT, 'field-manager'],
  'rollout resume': [...ROLLOUT, 'field-manager'],
  'rollout status': [...FILES, 'revision', 'selector', 'timeout', 'watch'],
  'rollout undo': [...ROLLOUT, 'dry-run', 'to-revision'],
  run: [
    ...[...PRINT, ...WRITE, 'annotations', 'attach', 'cascade', 'command', 'env', 'expose', 'filename'],
    ...['force', 'grace-period', 'image', 'image-pull-policy', 'kustomize', 'labels', 'leave-stdin-open'],
    ...['override-type', 'overrides', 'pod-running-timeout', 'port', 'privileged', 'quiet', 'recursive'],
    ...['restart', 'rm', 'save-config', 'stdin', 'timeout', 'tty', 'wait'],
  ],
  scale: [
    ...[...PRINT, ...FILES, 'all', 'current-replicas', 'dry-run', 'replicas', 'resource-version'],
    ...['selector', 'timeout'],
  ],
  set: [],
  'set env': [
    ...[...SET, 'containers', 'env', 'from', 'keys', 'kustomize', 'list', 'overwrite', 'prefix', 'resolve'],
    'selector',
  ],
  'set image': [...SET, 'kustomize', 'selector'],
  'set resources': [...SET, 'containers', 'kustomize', 'limits', 'requests', 'selector'],
  'set selector': [...SET, 'resource-version'],
  'set serviceaccount': [...SET, 'kustomize'],
  'set subject': [...SET, 'group', 'kustomize', 'selector', 'serviceaccount', 'user'],
  taint: [...PRINT, ...WRITE, 'all', 'overwrite', 'selector', 'validate'],
  top: [],
  'top node': ['no-headers', 'selector', 'show-capacity', 'sort-by', 'use-protocol-buffers'],
  'top pod': [
    ...['all-namespaces', 'containers', 'field-selector', 'no-headers', 'selector', 'sort-by', 'sum'],
    'use-protocol-buffers',
  ],
  uncordon: ['dry-run', 'selector'],
  version: ['client', 'output'],
  wait: [
    ...[...PRINT, 'all', 'all-namespaces', 'field-selector', 'filename', 'for', 'local', 'recursive'],
    ...['selector', 'timeout'],
  ],
};

/** Own flags of allowed commands that are refused, and why. */
const REFUSED_FLAGS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  create: { edit: EDITOR },
  kustomize: Object.fromEntries(PROGRAM_FLAGS.map((f) => [f, PROGRAMS])),
};

/** Flags whose value kubectl reads as a local path (or, for -o and --template, may). */
const VALUE_CHECKS: Readonly<Record<string, ValueCheck>> = {
  filename: 'paths',
  kustomize: 'path',
  'from-file': 'sources',
  'from-env-file': 'paths',
  cert: 'path',
  key: 'path',
  custom: 'path',
  'patch-file': 'path',
  'output-directory': 'path',
  output: 'format',
  template: 'template',
};
/** Where a flag's value means something else than VALUE_CHECKS says. */
const COMMAND_VALUE_CHECKS: Readonly<Record<string, Readonly<Record<string, ValueCheck>>>> = {
  kustomize: { output: 'path' }, // the file kubectl kustomize writes
};

/** -o formats that only shape what the server sent; their `=…` part, if any, is an inline template. */
const OUTPUT_FORMATS = new Set([
  '',
  'json',
  'yaml',
  'name',
  'wide',
  'jsonpath',
  'jsonpath-as-json',
  'custom-columns',
  'go-template',
  'template',
  'plaintext', // kubectl explain
  'plaintext-openapiv2',
]);
/** -o formats that read a local file: the `=…` part, or else --template, is its path. */
const OUTPUT_FILE_FORMATS = new Set([
  'go-template-file',
  'templatefile',
  'jsonpath-file',
  'custom-columns-file',
]);

const key = (cmdPath: readonly string[]) => cmdPath.join(' ');
/** `record[name]`, but never one of Object.prototype's members for a name such as `constructor`. */
function own<T>(record: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, name) ? record[name] : undefined;
}

/** Why a command path does not run here, or undefined if it does. */
export function commandProblem(cmdPath: readonly string[]): string | undefined {
  for (let n = 1; n <= cmdPath.length; n++) {
    const prefix = key(cmdPath.slice(0, n));
    const why = own(REFUSED_COMMANDS, prefix);
    if (why !== undefined) return `kubectl ${prefix} is not available here: ${why}`;
  }
  if (own(ALLOWED_COMMANDS, key(cmdPath)) === undefined)
    return `kubectl ${key(cmdPath)} is not available here`;
  return undefined;
}

/** Why `word`, an argument of a command that has subcommands, is refused: it names none of them. */
export function unknownSubcommand(cmdPath: readonly string[], word: string): string {
  const named = key([...cmdPath, shown(word)]);
  const why = own(REFUSED_COMMANDS, key([...cmdPath, word])) ?? 'unknown command';
  return `kubectl ${named} is not available here: ${why}`;
}

/** The policy for a flag of an allowed command; undefined for one it does not name (so refused). */
export function flagPolicy(
  cmdPath: readonly string[],
  name: string,
  global: boolean,
): FlagPolicy | undefined {
  const where = key(cmdPath);
  if (global) {
    if (IDENTITY_FLAGS.includes(name)) return { allowed: false, why: IDENTITY };
    if (LOCAL_STATE_FLAGS.includes(name)) return { allowed: false, why: LOCAL_STATE };
    return ALLOWED_GLOBAL_FLAGS.includes(name) ? { allowed: true, check: 'none' } : undefined;
  }
  const refused = own(REFUSED_FLAGS, where);
  const why = refused && own(refused, name);
  if (why !== undefined) return { allowed: false, why };
  if (!(own(ALLOWED_COMMANDS, where) ?? []).includes(name)) return undefined;
  const special = own(COMMAND_VALUE_CHECKS, where);
  return { allowed: true, check: (special && own(special, name)) ?? own(VALUE_CHECKS, name) ?? 'none' };
}

/** How the policy treats an output format: shown as is, read from a checked file, or refused. */
export function outputFormatPolicy(format: string): 'allowed' | 'file' | 'refused' {
  if (OUTPUT_FORMATS.has(format)) return 'allowed';
  return OUTPUT_FILE_FORMATS.has(format) ? 'file' : 'refused';
}

/** The command paths the policy allows, and the own flags it allows for each, for tests. */
export const allowedCommands = (): ReadonlyMap<string, readonly string[]> =>
  new Map(Object.entries(ALLOWED_COMMANDS));

// --- values ------------------------------------------------------------------------------------------

const WORK_DIR = "this shell's working directory";
const REMOTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

export function shown(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}

function within(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Follows a relative path the way the kernel will, one component at a time with symlinks resolved (so
 * `link/..` is the link target's parent), and requires every existing step to stay inside the work dir.
 */
function withinReally(workDir: string, value: string): boolean {
  let root: string;
  try {
    root = fs.realpathSync(workDir);
  } catch {
    return true; // no work dir to compare with: the lexical check stands alone
  }
  const parts = value.split('/');
  let at = root; // always a real path, so `..` from it is its lexical parent
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k] ?? '';
    if (part === '' || part === '.') continue;
    let real: string;
    try {
      real = fs.realpathSync(path.join(at, part));
    } catch {
      // Not there: nothing below it can be a link.
      return within(root, path.resolve(at, ...parts.slice(k)));
    }
    if (!within(root, real)) return false;
    at = real;
  }
  return true;
}

// Bounds on what one line may ask to be checked: following a path touches the filesystem on the
// controller's main thread, and no honest line needs more.
const MAX_FLAGS = 128;
const MAX_LIST_ITEMS = 64;
const MAX_PATH_COMPONENTS = 64;

/** Why `value` may not be used as a local path; `what` names it in the message. */
export function checkPath(what: string, value: string, workDir: string): string | undefined {
  if (REMOTE.test(value)) return `${what}: remote files are not allowed`;
  if (value.split('/').length > MAX_PATH_COMPONENTS)
    return `${what}: a local path has at most ${MAX_PATH_COMPONENTS} components here`;
  if (value.startsWith('~') || path.isAbsolute(value))
    return `${what}: local paths must be relative to ${WORK_DIR}`;
  const resolved = path.resolve(workDir, value);
  if (!within(workDir, resolved) || !withinReally(workDir, value))
    return `${what}: local paths must stay inside ${WORK_DIR}`;
  if (
    resolved === path.join(workDir, KUBECONFIG_FILE) ||
    resolved === path.join(workDir, KUBECONFIG_TEMP_FILE)
  )
    return `${what}: this shell's kubeconfig cannot be read`;
  return undefined;
}

/**
 * pflag reads a list flag's value as one CSV record: `-f a,b` is two files and `-f '"/x"'` is /x. Quotes
 * are refused rather than decoded, so splitting at commas gives exactly kubectl's items.
 */
function listItems(flag: string, value: string): string[] | string {
  if (value.includes('"')) return `${flag} ${shown(value)}: quotes are not allowed in a list of paths`;
  const items = value === '' ? [] : value.split(',');
  if (items.length > MAX_LIST_ITEMS)
    return `${flag} ${shown(value)}: at most ${MAX_LIST_ITEMS} paths in one flag here`;
  return items;
}

function checkValue(use: FlagUse, check: ValueCheck, value: string, workDir: string): string | undefined {
  const what = (v: string) => `${use.as} ${shown(v)}`;
  switch (check) {
    case 'none':
    case 'template': // checked with the -o values, in checkFlags
      return undefined;
    case 'path':
      return checkPath(what(value), value, workDir);
    case 'format': {
      const eq = value.indexOf('=');
      const format = eq === -1 ? value : value.slice(0, eq);
      const policy = outputFormatPolicy(format);
      if (policy === 'refused')
        return `${use.as} ${shown(value)}: output format ${shown(format)} is not allowed here`;
      if (policy === 'file' && eq !== -1) return checkPath(what(value), value.slice(eq + 1), workDir);
      return undefined;
    }
    case 'paths':
    case 'sources': {
      // The whole value as well as each item: a flag that is no CSV list reads it whole.
      const items = listItems(use.as, value);
      if (typeof items === 'string') return items;
      for (const item of [value, ...items]) {
        if (check === 'paths' && item === '-') continue; // stdin
        const problem = checkPath(what(item), item, workDir);
        if (problem) return problem;
        // `key=path`: kubectl reads the part after the `=`.
        const eq = item.indexOf('=');
        if (check === 'sources' && eq !== -1) {
          const source = item.slice(eq + 1);
          const sourceProblem = checkPath(what(source), source, workDir);
          if (sourceProblem) return sourceProblem;
        }
      }
      return undefined;
    }
  }
}

/** Whether any -o value of the line reads a file: then every --template value is that file's path. */
function templateIsFile(uses: readonly FlagUse[], cmdPath: readonly string[]): boolean {
  return uses.some((use) => {
    const policy = flagPolicy(cmdPath, use.name, use.global);
    if (!policy?.allowed || policy.check !== 'format' || use.value === undefined) return false;
    const eq = use.value.indexOf('=');
    return outputFormatPolicy(eq === -1 ? use.value : use.value.slice(0, eq)) === 'file';
  });
}

/** Why one of the line's flags is refused. Every use counts: a repeated flag is checked each time. */
export function checkFlags(args: KubectlArgs, workDir: string): string | undefined {
  if (args.flags.length > MAX_FLAGS) return `at most ${MAX_FLAGS} flags on one line here`;
  const fileTemplate = templateIsFile(args.flags, args.path);
  for (const use of args.flags) {
    const policy = flagPolicy(args.path, use.name, use.global);
    const flag = `--${use.name}`;
    if (policy === undefined) return `${flag} is not allowed here`;
    if (!policy.allowed) return `${flag} is not allowed here: ${policy.why}`;
    if (use.value === undefined) continue;
    const check = policy.check === 'template' && fileTemplate ? 'path' : policy.check;
    const problem = checkValue(use, check, use.value, workDir);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * Why a positional argument is refused: both local ends of `kubectl cp` (a remote end is
 * `[namespace/]pod:path`) and the directory of `kubectl kustomize` are local paths.
 */
export function checkArgs(args: KubectlArgs, workDir: string): string | undefined {
  const where = key(args.path);
  if (where !== 'cp' && where !== 'kustomize') return undefined;
  for (const arg of args.args) {
    if (where === 'cp' && arg.indexOf(':') > 0 && !REMOTE.test(arg)) continue;
    const problem = checkPath(`kubectl ${where} ${shown(arg)}`, arg, workDir);
    if (problem) return problem;
  }
  return undefined;
}

/** Every flag of kubectl's grammar for `cmdPath` (its own, then the global ones), for tests. */
export function grammarFlags(cmdPath: readonly string[]): Array<{ name: string; global: boolean }> {
  const local = Object.keys(own(COMMANDS, key(cmdPath))?.flags ?? {});
  const globals = Object.keys(GLOBAL_FLAGS).filter((name) => !local.includes(name));
  return [
    ...local.map((name) => ({ name, global: false })),
    ...globals.map((name) => ({ name, global: true })),
  ];
}
