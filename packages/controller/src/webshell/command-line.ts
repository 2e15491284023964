// One browser-shell command line → the argv that kubectl runs, or why it does not run. No shell is involved:
// the line is split by shell-quote's `parse` with no variable expansion, and anything that would need a
// shell (pipes, lists, redirections, subshells, globs, comments) is refused rather than half-honoured.
//
// The words are then read the way kubectl reads them, from kubectl's own grammar
// (kubectl-grammar.generated.ts), so that the policy (kubectl-policy.ts) judges the subcommand, flags and
// arguments kubectl will act on and not a guess at them. kubectl uses cobra and pflag:
// - cobra finds the subcommand first, level by level: the first word that is no flag and no flag's value
//   (an unknown flag is taken to have one), if it names a subcommand of the level reached so far;
// - pflag then parses the words left with the final command's flags: `--name`, `--name=value`,
//   `--name value` (any next word, even `--`), `_` read as `-` in names; short letters cluster (`-itn ns`):
//   letters without a value come first and the first letter that takes one takes the rest of the word
//   (`-ojson`, `-o=json`) or the next word; a flag with an optional value (`--dry-run`) takes one only as
//   `--dry-run=server`; `--` ends the flags.
// A flag kubectl does not know is refused here, even though kubectl would refuse it too: past one, the
// reading of the rest of the line could differ from kubectl's.
import { parse } from 'shell-quote';
import {
  COMMANDS,
  GLOBAL_FLAGS,
  type KubectlCommand,
  type KubectlFlag,
} from './kubectl-grammar.generated.js';
import {
  checkArgs,
  checkFlags,
  commandProblem,
  shown,
  unknownSubcommand,
  type FlagUse,
  type KubectlArgs,
} from './kubectl-policy.js';

export type ParsedCommand = { ok: true; args: string[] } | { ok: false; message: string };

/** The longest command line accepted (UTF-8 bytes); the line editor stops at the same length. */
export const MAX_LINE_BYTES = 64 * 1024;

const SHELL_SYNTAX = 'shell syntax is not supported: only one kubectl command per line';

// C0 controls but tab, DEL, C1 controls, and the invisible marks and bidi overrides that could make a line
// in the audit trail read differently from what runs.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function refuse(message: string): ParsedCommand {
  return { ok: false, message };
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

// --- kubectl's grammar -------------------------------------------------------------------------------

interface KnownFlag {
  readonly name: string;
  readonly flag: KubectlFlag;
  readonly global: boolean;
}

/** The flags of one command as pflag sees them: its own, then the global ones it does not shadow. */
interface FlagSet {
  readonly long: ReadonlyMap<string, KnownFlag>;
  readonly short: ReadonlyMap<string, KnownFlag>;
}

const flagSets = new Map<string, FlagSet>();

/** Maps, never plain objects: a flag typed as `--constructor` must not find Object.prototype's. */
function flagSet(cmd: KubectlCommand, cmdKey: string): FlagSet {
  let set = flagSets.get(cmdKey);
  if (set !== undefined) return set;
  const long = new Map<string, KnownFlag>();
  const short = new Map<string, KnownFlag>();
  const add = (flags: Readonly<Record<string, KubectlFlag>>, global: boolean) => {
    for (const [name, flag] of Object.entries(flags)) {
      if (long.has(name)) continue;
      const known = { name, flag, global };
      long.set(name, known);
      if (flag.short !== undefined && !short.has(flag.short)) short.set(flag.short, known);
    }
  };
  add(cmd.flags, false);
  add(GLOBAL_FLAGS, true);
  set = { long, short };
  flagSets.set(cmdKey, set);
  return set;
}

const commands = new Map(Object.entries(COMMANDS));

function commandAt(cmdPath: readonly string[]): { cmd: KubectlCommand; flags: FlagSet } {
  const cmdKey = cmdPath.join(' ');
  const cmd = commands.get(cmdKey);
  if (cmd === undefined) throw new Error(`kubectl ${cmdKey} is not in the grammar`);
  return { cmd, flags: flagSet(cmd, cmdKey) };
}

/** pflag's name lookup: kubectl normalizes `_` to `-` in long names. */
const longFlag = (flags: FlagSet, name: string) => flags.long.get(name.replaceAll('_', '-'));
/**
 * Whether cobra, looking for the subcommand, reads a flag as taking no value when given alone: a bool, or a
 * flag whose value is optional (pflag's NoOptDefVal). cobra adds -h/--help to a command only once it has
 * found it, so during the search they are unknown flags, which are taken to have a value.
 */
const noValueWhileFinding = (known: KnownFlag | undefined) =>
  known !== undefined && known.name !== 'help' && known.flag.kind !== 'value';

/**
 * The index of the first word that cobra takes for a subcommand name (its stripFlags), or -1. A flag
 * without `=` that it believes takes a value skips the next word, and ends the search if at most one word
 * is left after it; a cluster of short letters (`-it`) never does.
 */
function commandWord(words: readonly string[], flags: FlagSet): number {
  for (let i = 0; i < words.length; i++) {
    const s = words[i] ?? '';
    if (s === '--') return -1;
    let takesNext = false;
    if (!s.includes('=')) {
      if (s.startsWith('--')) takesNext = !noValueWhileFinding(longFlag(flags, s.slice(2)));
      // cobra counts bytes: `-é` is no short flag to it.
      else if (s.startsWith('-') && Buffer.byteLength(s) === 2)
        takesNext = !noValueWhileFinding(flags.short.get(s.charAt(1)));
    }
    if (takesNext) {
      if (words.length - (i + 1) <= 1) return -1;
      i++;
    } else if (s !== '' && !s.startsWith('-')) return i;
  }
  return -1;
}

/** cobra's Find: the command path, and the words left once the subcommand names are taken out. */
function findCommand(words: readonly string[]): { cmdPath: string[]; rest: string[] } {
  const cmdPath: string[] = [];
  const rest = [...words];
  for (;;) {
    const { cmd, flags } = commandAt(cmdPath);
    if (cmd.subcommands.length === 0) break;
    const at = commandWord(rest, flags);
    if (at === -1) break;
    const word = rest[at] ?? '';
    const sub = cmd.subcommands.find(
      (name) => name === word || commandAt([...cmdPath, name]).cmd.aliases.includes(word),
    );
    if (sub === undefined) break;
    rest.splice(at, 1); // cobra's argsMinusFirstX: that same word, by the same skipping rules
    cmdPath.push(sub);
  }
  return { cmdPath, rest };
}

type Parsed = { ok: true; args: KubectlArgs } | { ok: false; message: string };

/** pflag's parse of `words` with the flags of `cmdPath`. */
function parseFlags(cmdPath: readonly string[], words: readonly string[]): Parsed {
  const { flags } = commandAt(cmdPath);
  const uses: FlagUse[] = [];
  const args: string[] = [];
  const unknown = (as: string): Parsed => ({
    ok: false,
    message: `${shown(as)} is not allowed here: kubectl ${[...cmdPath, ''].join(' ')}has no such flag`,
  });
  const needsValue = (as: string): Parsed => ({ ok: false, message: `${as} needs a value` });

  for (let i = 0; i < words.length; i++) {
    const s = words[i] ?? '';
    if (s.length < 2 || !s.startsWith('-')) {
      args.push(s);
      continue;
    }
    if (s === '--') {
      args.push(...words.slice(i + 1));
      break;
    }
    if (s.startsWith('--')) {
      const body = s.slice(2);
      if (body.startsWith('-') || body.startsWith('='))
        return { ok: false, message: `bad flag syntax: ${shown(s)}` };
      const eq = body.indexOf('=');
      const name = eq === -1 ? body : body.slice(0, eq);
      const known = longFlag(flags, name);
      if (known === undefined) return unknown(`--${name.replaceAll('_', '-')}`);
      let value: string | undefined;
      if (eq !== -1) value = body.slice(eq + 1);
      else if (known.flag.kind === 'value') {
        if (i + 1 >= words.length) return needsValue(`--${known.name}`);
        value = words[++i];
      }
      uses.push({ name: known.name, as: `--${known.name}`, global: known.global, value });
      continue;
    }
    // pflag skips a word like `-test.v` whole (Go test flags): no reason to let one through.
    if (s.startsWith('-test.')) return unknown(s);
    let letters = s.slice(1);
    while (letters.length > 0) {
      const c = letters.charAt(0);
      const known = flags.short.get(c);
      if (known === undefined) return unknown(`-${c}`);
      const use = (value: string | undefined) =>
        uses.push({ name: known.name, as: `-${c}`, global: known.global, value });
      if (letters.length > 2 && letters.charAt(1) === '=') {
        use(letters.slice(2));
        break;
      }
      if (known.flag.kind !== 'value') {
        use(undefined);
        letters = letters.slice(1);
      } else if (letters.length > 1) {
        use(letters.slice(1));
        break;
      } else {
        if (i + 1 >= words.length) return needsValue(`-${c}`);
        use(words[++i]);
        break;
      }
    }
  }
  return { ok: true, args: { path: cmdPath, flags: uses, args } };
}

/** Why kubectl may not run with these arguments (those after `kubectl`), or undefined if it may. */
function checkKubectl(words: readonly string[], workDir: string): string | undefined {
  const { cmdPath, rest } = findCommand(words);
  const commandRefused = commandProblem(cmdPath);
  if (commandRefused !== undefined) return commandRefused;
  const parsed = parseFlags(cmdPath, rest);
  if (!parsed.ok) return parsed.message;
  const { args } = parsed;
  // A command with subcommands runs only to print its help; an argument there would be looked up as a
  // plugin (`kubectl foo`, `kubectl create foo`).
  const first = args.args[0];
  if (first !== undefined && commandAt(cmdPath).cmd.subcommands.length > 0)
    return unknownSubcommand(cmdPath, first);
  return checkFlags(args, workDir) ?? checkArgs(args, workDir);
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
  const problem = checkKubectl(words.slice(1), workDir);
  return problem === undefined ? { ok: true, args: words } : refuse(problem);
}
