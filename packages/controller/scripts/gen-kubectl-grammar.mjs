#!/usr/bin/env node
// Writes src/webshell/kubectl-grammar.generated.ts: kubectl's command tree and flags as kubectl itself
// reports them, so that the browser shell's policy (command-line.ts) splits a command line into subcommand,
// flags and arguments exactly as kubectl will, instead of as someone once typed it.
//
// It reads the `--help` of every command path of every /usr/lib/google-cloud-sdk/bin/kubectl.1.* and takes
// the union. Help alone does not tell a flag that needs a value from one whose value is optional (pflag's
// NoOptDefVal: `--dry-run` alone means `--dry-run=unchanged`, and `--dry-run server` makes `server` an
// argument), so every value flag is also probed (see `probe`).
//
//   node packages/controller/scripts/gen-kubectl-grammar.mjs           rewrite the file
//   node packages/controller/scripts/gen-kubectl-grammar.mjs --check   exit 1 if it is not current
//
// KUBECTL_DIR overrides where the kubectl binaries are looked for.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const KUBECTL_DIR = process.env.KUBECTL_DIR ?? '/usr/lib/google-cloud-sdk/bin';
const OUT_FILE = fileURLToPath(new URL('../src/webshell/kubectl-grammar.generated.ts', import.meta.url));
const SCRIPT = 'packages/controller/scripts/gen-kubectl-grammar.mjs';
// Commands kubectl's own help does not list but runs: cobra's `help`, and `alpha`, listed only when it has
// commands (it is walked whenever it has any). `options` (it prints the global flags and has no help of its
// own) is added below.
const UNLISTED = ['help', 'alpha'];
// cobra gives every command -h/--help; kubectl's help does not print it.
const HELP_FLAG = { name: 'help', short: 'h', def: 'false', usage: '' };
// kubectl 1.33 reads --kuberc itself, before its flag parser (and --help) runs, so a probe would only make
// it open the probe's token as a file. It is a plain string flag.
const NOT_PROBED = new Set(['kuberc']);
const PARALLEL = Math.max(2, os.availableParallelism() * 2);

// --- running kubectl ---------------------------------------------------------------------------------

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-gen-grammar-'));
process.on('exit', () => fs.rmSync(home, { recursive: true, force: true }));
const ENV = {
  HOME: home,
  KUBECONFIG: path.join(home, 'no-kubeconfig'),
  PATH: '/nonexistent', // no plugins
  KUBECTL_KUBERC: 'true', // kubectl 1.33 defines --kuberc only when this is on: the policy must see it
  LANG: 'C',
};

let running = 0;
const waiting = [];

/** Runs kubectl (at most PARALLEL at once); resolves with its exit code and output, never rejects. */
function run(bin, args) {
  return new Promise((resolve) => {
    const start = () => {
      running++;
      execFile(bin, args, { env: ENV, maxBuffer: 16 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
        running--;
        waiting.shift()?.();
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      });
    };
    if (running < PARALLEL) start();
    else waiting.push(start);
  });
}

async function output(bin, args) {
  const r = await run(bin, args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

const help = (bin, cmdPath) => output(bin, [...cmdPath, '--help']);

// --- reading help ------------------------------------------------------------------------------------

// kubectl prints a flag as `    -o, --output='':` (quoted: a string), `--all=false:` (a bool), `-f,
// --filename=[]:` (a list), followed by its usage indented with a tab.
const FLAG_LINE = /^ {4}(?:-(\S), )?--([A-Za-z0-9][\w-]*)=(.*):$/;
const COMMAND_LINE = /^ {2}([a-z][\w-]*) {2,}\S/;
const GLOBALS_SECTION = 'The following options can be passed to any command:';

function parseHelp(text, flagSection = 'Options:') {
  const lines = text.split('\n');
  const result = { usage: false, aliases: [], subcommands: [], flags: [] };
  let section = '';
  let flag;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\S.*:$/.test(line)) {
      section = line;
      flag = undefined;
      if (section === 'Usage:') result.usage = true;
      if (section === 'Aliases:') result.aliases = (lines[i + 1] ?? '').split(',').map((s) => s.trim());
      continue;
    }
    if (/Commands( \(.*\))?:$/.test(section)) {
      const m = COMMAND_LINE.exec(line);
      if (m) result.subcommands.push(m[1]);
    } else if (section === flagSection) {
      const m = FLAG_LINE.exec(line);
      if (m) {
        const [, short, name, def] = m;
        flag = { name, short, def, usage: '' };
        result.flags.push(flag);
      } else if (flag && line.startsWith('\t')) flag.usage += `${flag.usage ? ' ' : ''}${line.trim()}`;
    }
  }
  // The first alias is the command's own name.
  result.aliases = result.aliases.slice(1).filter((a) => a !== '');
  return result;
}

function kindFromDefault(def) {
  return def === 'true' || def === 'false' ? 'bool' : 'value';
}

/**
 * The output formats an `--output` usage names: `One of: (json, yaml, …)`, `Must be one of (yaml, json)`,
 * `(plaintext, plaintext-openapiv2)`, `One of 'yaml' or 'json'.`, `Use "-o name" for …`; none for a path.
 */
function outputFormats(usage) {
  const list = /(?:one of:?|render the schema) *\(([^)]*)\)/i.exec(usage);
  if (list) return list[1].split(/[,|]/).map((s) => s.trim());
  const quoted = [...usage.matchAll(/'([\w-]+)'|"-o ([\w-]+)"/g)].map((m) => m[1] ?? m[2]);
  return quoted.length > 0 ? quoted : undefined;
}

/**
 * Which of `flags` (names of value flags of `cmdPath`) take their value only as `--name=value`. Each flag is
 * followed by a token that is a valid int but no flag (`-1000`, shorthand `1` does not exist):
 *   kubectl <path> --help --a -1000 --b -1001 …
 * A flag that needs a value eats its token (or rejects it: "invalid argument "-1001" for "--b""); after
 * one with an optional value the token is read as a flag: "unknown shorthand flag: '1' in -1001". kubectl
 * stops at the first error, so the probe restarts after it; with no error, every flag needed its value.
 * `--help` makes a successful parse print help instead of running anything.
 */
async function probe(bin, cmdPath, flags) {
  const optional = new Set();
  let rest = flags;
  while (rest.length > 0) {
    const args = [...cmdPath, '--help'];
    rest.forEach((name, i) => args.push(`--${name}`, `-${1000 + i}`));
    const r = await run(bin, args);
    if (r.code === 0) break;
    const unknown = /unknown shorthand flag: '1' in -(\d+)/.exec(r.stderr);
    const invalid = /invalid argument "-(\d+)" for "(?:-\S, )?--([\w-]+)" flag/.exec(r.stderr);
    const at = unknown ? Number(unknown[1]) - 1000 : invalid ? Number(invalid[1]) - 1000 : -1;
    if (at < 0 || at >= rest.length || (invalid && invalid[2] !== rest[at]))
      throw new Error(`kubectl ${args.join(' ')}: unexpected answer: ${r.stderr}`);
    if (unknown) optional.add(rest[at]);
    rest = rest.slice(at + 1);
  }
  return optional;
}

// --- every kubectl, then the union --------------------------------------------------------------------

async function readKubectl(bin) {
  const version = JSON.parse((await run(bin, ['version', '--client', '-o', 'json'])).stdout).clientVersion
    .gitVersion;
  const globals = [...parseHelp(await output(bin, ['options']), GLOBALS_SECTION).flags, HELP_FLAG];
  if (globals.length < 10) throw new Error(`kubectl options (${version}) lists no global flags`);
  const commands = new Map();
  const walk = async (cmdPath) => {
    const h = parseHelp(await help(bin, cmdPath));
    if (cmdPath.length > 0 && !h.usage) return; // `kubectl alpha` with no alpha commands
    const subs = cmdPath.length === 0 ? [...new Set([...h.subcommands, ...UNLISTED])] : h.subcommands;
    commands.set(cmdPath.join(' '), { cmdPath, aliases: h.aliases, subcommands: subs, flags: h.flags });
    await Promise.all(subs.map((s) => walk([...cmdPath, s])));
  };
  await walk([]);
  commands.set('options', { cmdPath: ['options'], aliases: [], subcommands: [], flags: [] });
  commands.get('').subcommands.push('options');
  // A command that turned out not to exist is no subcommand.
  for (const [key, c] of commands)
    c.subcommands = c.subcommands.filter((s) => commands.has(key === '' ? s : `${key} ${s}`));
  return { bin, version, globals, commands };
}

/**
 * Probes each value flag once: a flag printed identically (letter, default and usage) by the same command
 * of two versions is the same definition, so only its first version is asked. The global flags are probed
 * on kubectl itself. Returns the set of probe keys whose value is optional.
 */
async function probeAll(all) {
  const byRun = new Map(); // "bin\0path" → { bin, cmdPath, names: Map<name, key> }
  const seen = new Set();
  const want = (bin, cmdPath, where, f) => {
    if (kindFromDefault(f.def) !== 'value' || NOT_PROBED.has(f.name)) return;
    const k = probeKey(where, f);
    if (seen.has(k)) return;
    seen.add(k);
    const runKey = `${bin}\0${cmdPath.join(' ')}`;
    if (!byRun.has(runKey)) byRun.set(runKey, { bin, cmdPath, names: new Map() });
    byRun.get(runKey).names.set(f.name, k);
  };
  for (const k of all) {
    k.globals.forEach((f) => want(k.bin, [], GLOBAL, f));
    for (const [where, c] of k.commands) c.flags.forEach((f) => want(k.bin, c.cmdPath, where, f));
  }
  const optional = new Set();
  await Promise.all(
    [...byRun.values()].map(async ({ bin, cmdPath, names }) => {
      for (const name of await probe(bin, cmdPath, [...names.keys()])) optional.add(names.get(name));
    }),
  );
  return optional;
}

const GLOBAL = '(global)';
const probeKey = (where, f) => JSON.stringify([where, f.name, f.short, f.def, f.usage]);

function mergeFlags(into, from, where, version, optional) {
  for (const p of from) {
    const kind =
      kindFromDefault(p.def) === 'bool' ? 'bool' : optional.has(probeKey(where, p)) ? 'optional' : 'value';
    const f = {
      short: p.short,
      kind,
      list: p.def === '[]',
      formats: p.name === 'output' ? outputFormats(p.usage) : undefined,
    };
    const had = into.get(p.name);
    if (had === undefined) {
      into.set(p.name, { ...f, formats: f.formats && new Set(f.formats) });
      continue;
    }
    // A flag read one way by one version and another way by another cannot be parsed for both. A letter
    // that only some versions have is kept: the others refuse it themselves.
    if (had.kind !== f.kind || (had.short && f.short && had.short !== f.short))
      throw new Error(`${where} --${p.name} differs in kubectl ${version}: ${JSON.stringify([had, f])}`);
    had.short ??= f.short;
    had.list ||= f.list;
    for (const fmt of f.formats ?? []) (had.formats ??= new Set()).add(fmt);
  }
}

function union(all, optional) {
  const globals = new Map();
  const commands = new Map();
  for (const k of all) {
    mergeFlags(globals, k.globals, GLOBAL, k.version, optional);
    for (const [key, c] of k.commands) {
      let had = commands.get(key);
      if (had === undefined) {
        had = { aliases: new Set(), subcommands: new Set(), flags: new Map() };
        commands.set(key, had);
      }
      c.aliases.forEach((a) => had.aliases.add(a));
      c.subcommands.forEach((s) => had.subcommands.add(s));
      mergeFlags(had.flags, c.flags, key, k.version, optional);
    }
  }
  return { versions: all.map((k) => k.version), globals, commands };
}

// --- writing -------------------------------------------------------------------------------------------
// The file is written as Prettier would print it, so that formatting the repository leaves it current.

const WIDTH = 110;
const q = (s) => `'${s}'`;
const key = (s) => (/^[A-Za-z_$][\w$]*$/.test(s) ? s : q(s));
const sorted = (items) => [...items].sort();

function flagsObject(flags, indent) {
  const names = sorted(flags.keys());
  if (names.length === 0) return '{}';
  const lines = names.map((name) => {
    const f = flags.get(name);
    const parts = [...(f.short ? [`short: ${q(f.short)}`] : []), `kind: ${q(f.kind)}`];
    if (f.list) parts.push('list: true');
    return `${indent}  ${key(name)}: { ${parts.join(', ')} },`;
  });
  return `{\n${lines.join('\n')}\n${indent}}`;
}

/** `head [a, b]` + `tail` on one line when it fits, else one item per line. */
function array(head, items, tail, indent) {
  const line = `${indent}${head}[${items.map(q).join(', ')}]${tail}`;
  if (line.length <= WIDTH) return line;
  return [`${indent}${head}[`, ...items.map((s) => `${indent}  ${q(s)},`), `${indent}]${tail}`].join('\n');
}

const PREAMBLE = `
/** \`bool\`: no value (\`--x=false\` still works); \`value\`: needs one; \`optional\`: a value only as \`--x=v\`. */
export type FlagKind = 'bool' | 'value' | 'optional';

export interface KubectlFlag {
  readonly short?: string;
  readonly kind: FlagKind;
  /** Its default is a list: it may be repeated, and most such flags split a value at commas too. */
  readonly list?: true;
}

export interface KubectlCommand {
  readonly aliases: readonly string[];
  readonly subcommands: readonly string[];
  /** The command's own flags; GLOBAL_FLAGS apply to every command. */
  readonly flags: Readonly<Record<string, KubectlFlag>>;
  /** The formats its --output help names, where it names any. */
  readonly outputFormats?: readonly string[];
}
`;

function render({ versions, globals, commands }, inputs) {
  // Most commands share one list of output formats: each distinct list is written once.
  const formatLists = new Map();
  for (const cmdKey of sorted(commands.keys())) {
    const formats = commands.get(cmdKey).flags.get('output')?.formats;
    if (!formats) continue;
    const items = sorted(formats);
    const k = items.join(' ');
    if (!formatLists.has(k)) formatLists.set(k, { name: `FORMATS_${formatLists.size + 1}`, items });
  }
  const out = [
    `// Generated by ${SCRIPT} from the help of kubectl`,
    `// ${versions.join(', ')}.`,
    '// Do not edit: run the script again. The union of the command paths and flags of those versions; the',
    '// script says how each flag is read. Command keys are paths of canonical names (`create secret generic`).',
    PREAMBLE,
    array('export const KUBECTL_VERSIONS: readonly string[] = ', versions, ';', ''),
    '',
    '/** The kubectl binaries it was made from, with their SHA-256: a test compares them with the installed ones. */',
    array('export const KUBECTL_INPUTS: readonly string[] = ', inputs, ';', ''),
    '',
    "/** kubectl's global flags, and cobra's -h/--help, which every command has. */",
    `export const GLOBAL_FLAGS: Readonly<Record<string, KubectlFlag>> = ${flagsObject(globals, '')};`,
    '',
  ];
  for (const { name, items } of formatLists.values())
    out.push(array(`const ${name}: readonly string[] = `, items, ';', ''), '');
  out.push('export const COMMANDS: Readonly<Record<string, KubectlCommand>> = {');
  for (const k of sorted(commands.keys())) {
    const c = commands.get(k);
    const formats = c.flags.get('output')?.formats;
    out.push(`  ${key(k)}: {`);
    out.push(array('aliases: ', sorted(c.aliases), ',', '    '));
    out.push(array('subcommands: ', sorted(c.subcommands), ',', '    '));
    out.push(`    flags: ${flagsObject(c.flags, '    ')},`);
    if (formats) out.push(`    outputFormats: ${formatLists.get(sorted(formats).join(' ')).name},`);
    out.push('  },');
  }
  out.push('};', '');
  return out.join('\n');
}

// --- main ----------------------------------------------------------------------------------------------

function installed() {
  let names;
  try {
    names = fs.readdirSync(KUBECTL_DIR);
  } catch {
    names = [];
  }
  const found = names
    .map((n) => /^kubectl\.1\.(\d+)$/.exec(n))
    .filter((m) => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => path.join(KUBECTL_DIR, m[0]));
  if (found.length === 0)
    throw new Error(
      `no kubectl.1.* in ${KUBECTL_DIR}: the grammar is made from the installed kubectl versions`,
    );
  return found;
}

/** `kubectl.1.33 <sha256>`: what the grammar was read from. */
function inputOf(file) {
  const hash = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return `${path.basename(file)} ${hash}`;
}

async function main() {
  const check = process.argv.includes('--check');
  const files = installed();
  const all = await Promise.all(files.map(readKubectl));
  const text = render(union(all, await probeAll(all)), files.map(inputOf));
  if (!check) {
    fs.writeFileSync(OUT_FILE, text);
    console.log(`wrote ${OUT_FILE}`);
    return;
  }
  const current = fs.existsSync(OUT_FILE) ? fs.readFileSync(OUT_FILE, 'utf8') : '';
  if (current !== text) {
    console.error(`${OUT_FILE} is not current for the installed kubectl: run node ${SCRIPT}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(`gen-kubectl-grammar: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
