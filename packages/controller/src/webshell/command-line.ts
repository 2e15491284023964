// One browser-shell command line → the argv that kubectl runs, or why it does not run. No shell is involved:
// the line is split by shell-quote's `parse` with no variable expansion, and anything that would need a
// shell (pipes, lists, redirections, subshells, globs, comments) is refused rather than half-honoured.
//
// kubectl parses its flags with cobra/pflag, and this module follows those rules closely enough to be safe:
// - a long flag is `--name`, `--name=value` or `--name value`, and kubectl reads `_` in a name as `-`;
// - short flags cluster: in `-itsX` the boolean `-i` and `-t` come first and `-s` takes `X` as its value, so
//   a cluster is read letter by letter until a letter that takes a value;
// - `--` ends the flags, except where it is itself the value of the flag before it (`-l --`);
// - the subcommand is the first word that is not a flag or a flag's value; where the value rules are not
//   certain, every reading is checked. When in doubt a line is refused, never allowed.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'shell-quote';
import { KUBECONFIG_FILE, KUBECONFIG_TEMP_FILE } from './work-dir.js';

export type ParsedCommand = { ok: true; args: string[] } | { ok: false; message: string };

/** The longest command line accepted (UTF-8 bytes); the line editor stops at the same length. */
export const MAX_LINE_BYTES = 64 * 1024;

const SHELL_SYNTAX = 'shell syntax is not supported: only one kubectl command per line';
const WORK_DIR = "this shell's working directory";

// C0 controls but tab, DEL, C1 controls, and the invisible marks and bidi overrides that could make a line
// in the audit trail read differently from what runs.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/** Flags that pick another server, credential or identity. */
const IDENTITY_FLAGS = new Set([
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
]);
/** Flags that move kubectl's own files or settings; `--profile` of `kubectl debug` is another flag. */
const LOCAL_STATE_FLAGS = new Set(['cache-dir', 'profile', 'profile-output', 'kuberc']);
/** `kubectl kustomize` flags that run programs or lift its file restrictions. */
const PROGRAM_FLAGS = new Set([
  'enable-alpha-plugins',
  'enable-exec',
  'enable-helm',
  'helm-command',
  'load-restrictor',
  'mount',
  'network',
]);
/** Flags whose value is a local file or directory. */
const PATH_FLAGS = new Set([
  'filename',
  'kustomize',
  'from-file',
  'from-env-file',
  'template',
  'output-directory',
  'patch-file',
  'cert',
  'key',
  'custom',
]);
const OUTPUT_FILE = /^(?:go-template-file|jsonpath-file|custom-columns-file)=(.*)$/s;

const REFUSED_SUBCOMMANDS = new Map([
  ['proxy', 'it would open a port on the controller'],
  ['port-forward', 'it would open a port on the controller'],
  ['edit', 'there is no editor; use kubectl patch, apply or replace'],
  ['config', "this shell's kubeconfig is managed by ztka"],
  ['plugin', 'plugins do not run here'],
  ['krew', 'plugins do not run here'],
]);

// kubectl's own (root) flags, for finding the subcommand: those that take a value, and the booleans.
const ROOT_VALUE_FLAGS = new Set([
  ...IDENTITY_FLAGS,
  ...LOCAL_STATE_FLAGS,
  'namespace',
  'log-flush-frequency',
  'request-timeout',
  'v',
  'vmodule',
]);
ROOT_VALUE_FLAGS.delete('insecure-skip-tls-verify');
const ROOT_BOOL_FLAGS = new Set([
  'disable-compression',
  'insecure-skip-tls-verify',
  'match-server-version',
  'warnings-as-errors',
  'help',
]);
/**
 * Long flags that are boolean wherever kubectl (1.32) defines them, among those that come before a `--` in
 * exec, run, debug, attach and create job/cronjob/deployment. A flag missing here makes a following `--`
 * count as its value, which only means more of the line is checked.
 */
const BOOL_FLAGS = new Set([
  ...ROOT_BOOL_FLAGS,
  'allow-missing-template-keys',
  'arguments-only',
  'attach',
  'command',
  'expose',
  'force',
  'keep-annotations',
  'keep-init-containers',
  'keep-labels',
  'keep-liveness',
  'keep-readiness',
  'keep-startup',
  'leave-stdin-open',
  'privileged',
  'quiet',
  'recursive',
  'replace',
  'rm',
  'same-node',
  'save-config',
  'share-processes',
  'show-managed-fields',
  'stdin',
  'tty',
  'wait',
]);
// Short flags (kubectl 1.32): always boolean; always taking a value; -f, -p and -w are either, by command.
const SHORT_BOOL = new Set(['A', 'R', 'h', 'i', 'q', 't']);
const SHORT_VALUE = new Set(['L', 'P', 'c', 'e', 'k', 'l', 'n', 'o', 'r', 's', 'u', 'v']);
const ROOT_SHORT_VALUE = new Set(['n', 's', 'v']);
const ROOT_SHORT_BOOL = new Set(['h']);

function refuse(message: string): ParsedCommand {
  return { ok: false, message };
}

function shown(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}

/** `$NAME` and `${NAME}` stay as typed (both come back as `$NAME`): nothing is expanded. */
function keepVariable(name: string): string {
  return `$${name}`;
}

/** shell-quote drops an unterminated quote silently; a shell would wait for more, this refuses. */
function unterminated(line: string): string | undefined {
  let quote: "'" | '"' | "$'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === undefined) {
      if (c === '\\') {
        if (i === line.length - 1) return 'a command line cannot end with a backslash';
        i++;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '$' && line[i + 1] === "'") {
        quote = "$'";
        i++;
      } else if (c === '#') return undefined; // the rest is a comment, refused below
    } else if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (c === '\\') i++;
    else if (c === (quote === '"' ? '"' : "'")) quote = undefined;
  }
  return quote === undefined ? undefined : 'unterminated quote';
}

function flagName(arg: string): string {
  const eq = arg.indexOf('=');
  return (eq === -1 ? arg.slice(2) : arg.slice(2, eq)).replaceAll('_', '-');
}

function isFlag(arg: string): boolean {
  return arg.startsWith('-') && arg !== '-' && arg !== '--';
}

/** Whether a flag written as `arg` takes the next word as its value (when unsure: yes). */
function takesNext(arg: string): boolean {
  if (!isFlag(arg) || arg.includes('=')) return false;
  if (arg.startsWith('--')) return !BOOL_FLAGS.has(flagName(arg));
  for (let j = 1; j < arg.length; j++) {
    const c = arg.charAt(j);
    if (!/[A-Za-z0-9]/.test(c)) return false;
    if (!SHORT_BOOL.has(c)) return j === arg.length - 1;
  }
  return false;
}

/** Where the flags end: the first `--` that is not the value of the flag before it. */
function endOfFlags(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--' && (i === 0 || !takesNext(args[i - 1] ?? ''))) return i;
  }
  return args.length;
}

/**
 * The subcommand as cobra finds it (an unknown flag is taken to have a value), and as it would be if
 * unknown flags had none; both readings are checked.
 */
function subcommands(args: string[]): Set<string> {
  const found = new Set<string>();
  for (const unknownTakesValue of [true, false]) {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? '';
      if (arg === '--') break;
      if (arg === '') continue; // cobra skips empty words
      if (!arg.startsWith('-')) {
        found.add(arg);
        break;
      }
      if (arg.includes('=')) continue;
      if (arg.startsWith('--')) {
        const name = flagName(arg);
        if (ROOT_VALUE_FLAGS.has(name) || (unknownTakesValue && !ROOT_BOOL_FLAGS.has(name))) i++;
      } else if (arg.length === 2) {
        const c = arg.charAt(1);
        if (ROOT_SHORT_VALUE.has(c) || (unknownTakesValue && !ROOT_SHORT_BOOL.has(c))) i++;
      }
    }
  }
  return found;
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

function checkPath(what: string, value: string, workDir: string, allowStdin = false): string | undefined {
  if (allowStdin && value === '-') return undefined;
  const prefix = `${what} ${shown(value)}`;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) return `${prefix}: remote files are not allowed`;
  if (value.startsWith('~') || path.isAbsolute(value))
    return `${prefix}: local paths must be relative to ${WORK_DIR}`;
  const resolved = path.resolve(workDir, value);
  if (!within(workDir, resolved) || !withinReally(workDir, value))
    return `${prefix}: local paths must stay inside ${WORK_DIR}`;
  if (
    resolved === path.join(workDir, KUBECONFIG_FILE) ||
    resolved === path.join(workDir, KUBECONFIG_TEMP_FILE)
  )
    return `${prefix}: this shell's kubeconfig cannot be read`;
  return undefined;
}

function checkFlagValue(flag: string, name: string, value: string, workDir: string): string | undefined {
  if (name === 'output') {
    const file = OUTPUT_FILE.exec(value)?.[1];
    return file === undefined ? undefined : checkPath(flag, file, workDir);
  }
  if (!PATH_FLAGS.has(name)) return undefined;
  if (name === 'from-file' && value.includes('=')) {
    // [key=]source
    const source = value.slice(value.indexOf('=') + 1);
    return checkPath(flag, value, workDir) ?? checkPath(flag, source, workDir);
  }
  return checkPath(flag, value, workDir, name === 'filename');
}

function refusedFlag(name: string, debug: boolean): string | undefined {
  if (IDENTITY_FLAGS.has(name))
    return `--${name} is not allowed here: the shell reaches only this cluster as you`;
  if (LOCAL_STATE_FLAGS.has(name) && !(name === 'profile' && debug))
    return `--${name} is not allowed here: kubectl's local files are managed by the shell`;
  if (PROGRAM_FLAGS.has(name))
    return `--${name} is not allowed here: it would run programs or read files on the controller`;
  return undefined;
}

const SHORT_NAMES: Record<string, string> = { f: 'filename', k: 'kustomize', o: 'output' };

/** One cluster of short flags (`-it`, `-nfoo`, `-f=x`, `-f` with its value in `next`). */
function checkShort(arg: string, next: string | undefined, followIsBool: boolean, workDir: string) {
  for (let j = 1; j < arg.length; j++) {
    const c = arg.charAt(j);
    if (!/[A-Za-z0-9]/.test(c)) return undefined; // a value, or a word kubectl rejects
    const rest = arg.slice(j + 1);
    const value = rest.startsWith('=') ? rest.slice(1) : rest !== '' ? rest : next;
    if (c === 's') return refusedFlag('server', false);
    const long = SHORT_NAMES[c];
    if (long !== undefined && value !== undefined) {
      const problem = checkFlagValue(`-${c}`, long, value, workDir);
      if (problem) return problem;
    }
    if (c === 'f' && followIsBool) continue; // `kubectl logs -f` is --follow
    if (SHORT_VALUE.has(c) || c === 'f' || rest.startsWith('=')) return undefined;
  }
  return undefined;
}

function checkArgs(args: string[], workDir: string): string | undefined {
  const subs = subcommands(args);
  for (const sub of subs) {
    const why = REFUSED_SUBCOMMANDS.get(sub);
    if (why !== undefined) return `kubectl ${sub} is not available here: ${why}`;
  }
  const debug = subs.size > 0 && [...subs].every((s) => s === 'debug');
  const end = endOfFlags(args);

  // Every word before the end of the flags that looks like a flag is checked, even one that is really the
  // value of the flag before it: that can only refuse more.
  for (let i = 0; i < end; i++) {
    const arg = args[i] ?? '';
    if (!isFlag(arg)) continue;
    const next = i + 1 < end ? args[i + 1] : undefined;
    let problem: string | undefined;
    if (arg.startsWith('--')) {
      const name = flagName(arg);
      const eq = arg.indexOf('=');
      const value = eq === -1 ? next : arg.slice(eq + 1);
      problem =
        refusedFlag(name, debug) ??
        (value === undefined ? undefined : checkFlagValue(`--${name}`, name, value, workDir));
    } else {
      problem = checkShort(arg, next, subs.has('logs'), workDir);
    }
    if (problem) return problem;
  }

  // Positional local paths: both ends of `kubectl cp` (a remote end is `[namespace/]pod:path`), and the
  // directory of `kubectl kustomize`. Flag values among the words are checked too, harmlessly.
  for (const sub of ['cp', 'kustomize']) {
    if (!subs.has(sub)) continue;
    const at = args.indexOf(sub);
    for (let i = at + 1; i < args.length; i++) {
      const arg = args[i] ?? '';
      if ((i < end && isFlag(arg)) || i === end) continue;
      if (sub === 'cp' && arg.includes(':') && !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(arg)) continue;
      const problem = checkPath(`kubectl ${sub}`, arg, workDir);
      if (problem) return problem;
    }
  }
  return undefined;
}

/**
 * Splits a browser-shell line into kubectl's argv (`args[0]` is `kubectl`) or refuses it. `workDir` is the
 * session's private directory: every local path must stay inside it.
 */
export function parseCommandLine(line: string, workDir: string): ParsedCommand {
  if (Buffer.byteLength(line, 'utf8') > MAX_LINE_BYTES)
    return refuse('the command line is too long (64 KiB at most)');
  if (CONTROL.test(line)) return refuse('control characters are not allowed in a command line');
  const quoting = unterminated(line);
  if (quoting !== undefined) return refuse(quoting);
  // Command substitution could never run here (there is no shell), but a line that asks for it expects a
  // shell's meaning: refused rather than passed to kubectl as literal text.
  if (line.includes('`') || line.includes('$(')) return refuse(SHELL_SYNTAX);

  let entries: ReturnType<typeof parse>;
  try {
    entries = parse(line, keepVariable);
  } catch (err) {
    return refuse(`the command line could not be read: ${err instanceof Error ? err.message : String(err)}`);
  }
  const words: string[] = [];
  for (const entry of entries) {
    if (typeof entry !== 'string') return refuse(SHELL_SYNTAX);
    words.push(entry);
  }
  if (words.length === 0) return refuse('empty command line');
  // `$'…'` quoting can spell control characters that the line itself does not contain.
  if (words.some((w) => CONTROL.test(w)))
    return refuse('control characters are not allowed in a command line');
  if (words[0] !== 'kubectl') return refuse(`${shown(words[0] ?? '')}: only kubectl commands run here`);
  const problem = checkArgs(words.slice(1), workDir);
  return problem === undefined ? { ok: true, args: words } : refuse(problem);
}
