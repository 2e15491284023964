#!/usr/bin/env node
// Installs and builds whatever a fresh clone lacks, so `npm test` and `npm run demo` work as the first
// command. Each step is skipped when its output is current, so running it again costs a second or two.
// Plain JavaScript on purpose: it runs before TypeScript and the dependencies exist.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const quiet = process.argv.includes('--quiet');
const say = (msg) => quiet || console.error(`setup: ${msg}`);

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, {
    cwd: root,
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
    ...opts,
  });
  if (res.status !== 0) {
    console.error(`setup: ${cmd} ${args.join(' ')} failed (exit ${res.status ?? res.signal})`);
    process.exit(1);
  }
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 10)) {
  console.error(`setup: Node.js 20.10 or newer is needed; this is ${process.version}`);
  process.exit(1);
}

// Dependencies: reinstall whenever package-lock.json differs from what node_modules was installed from.
const lock = path.join(root, 'package-lock.json');
const stamp = path.join(root, 'node_modules', '.ztka-installed');
const lockHash = createHash('sha256').update(fs.readFileSync(lock)).digest('hex');
if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== lockHash) {
  say('installing dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
  fs.writeFileSync(stamp, lockHash);
}

// TypeScript: tsc -b is incremental and returns at once when nothing changed.
say('compiling TypeScript');
run(path.join(root, 'node_modules', '.bin', 'tsc'), ['-b']);

// The executables (`ztka`, `ztka-controller`, `ztka-agent`) are tsc output: tsc writes them without the
// execute bit, and on a fresh clone they do not exist yet when `npm ci` links node_modules/.bin, so npm
// skips them. Make them executable and link them here, so `npx ztka` works and kubectl finds `ztka token`.
for (const pkg of ['cli', 'controller', 'agent']) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'packages', pkg, 'package.json'), 'utf8'));
  for (const [name, target] of Object.entries(manifest.bin ?? {})) {
    const file = path.join(root, 'packages', pkg, target);
    if (!fs.existsSync(file)) continue;
    fs.chmodSync(file, 0o755);
    const link = path.join(root, 'node_modules', '.bin', name);
    const wanted = path.relative(path.dirname(link), file);
    let current;
    try {
      current = fs.readlinkSync(link);
    } catch {
      current = undefined;
    }
    if (current !== wanted) {
      fs.rmSync(link, { force: true });
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(wanted, link);
    }
  }
}

// The browser shell's sandbox: bubblewrap (setpriv, prlimit and ldd come with every Debian system). Without
// it the controller still runs, and every shell refuses to start, saying why.
if (!fs.existsSync('/usr/bin/bwrap')) {
  const apt = (args) =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
      stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    say('installing the browser shell sandbox (apt-get install bubblewrap)');
    const install = ['install', '-y', '--no-install-recommends', 'bubblewrap'];
    if (apt(install) !== 0 && (apt(['update']) !== 0 || apt(install) !== 0)) {
      console.error('setup: apt-get install bubblewrap failed');
      process.exit(1);
    }
  } else {
    console.error('setup: bubblewrap is missing (apt-get install bubblewrap): browser shells will not start');
  }
}

// Web console: rebuild when any source is newer than the built page.
const web = path.join(root, 'packages', 'web');
const newest = (p) => {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...fs.readdirSync(p).map((f) => newest(path.join(p, f))));
};
const built = path.join(web, 'dist', 'index.html');
const sources = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((f) => path.join(web, f));
if (!fs.existsSync(built) || Math.max(...sources.map(newest)) > fs.statSync(built).mtimeMs) {
  say('building the web console');
  run('npm', ['run', 'build', '-w', '@ztka/web']);
}
