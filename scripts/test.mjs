#!/usr/bin/env node
// Runs every test: lint, then unit tests and end-to-end tests under node's test runner. End-to-end tests
// need the real control plane; it is started once here (building it on first use) and stopped at the end
// unless it was already running or ZTKA_KEEP_TESTENV=1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const unitOnly = process.argv.includes('--unit');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const run = (cmd, args, opts = {}) =>
  spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts }).status ?? 1;

function testFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.js'))
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}

const unitDirs = ['packages/protocol', 'packages/controller', 'packages/agent', 'packages/cli', 'testenv'];
// The console's logic (packages/web/src/lib) is compiled for node's runner apart from the Vite build.
if (run(bin('tsc'), ['-p', 'packages/web/tsconfig.test.json']) !== 0) {
  console.error('test: the web console tests do not compile');
  process.exit(1);
}
const files = [
  ...unitDirs.flatMap((d) => testFiles(path.join(root, d, 'dist'))),
  ...testFiles(path.join(root, 'packages', 'web', 'node_modules', '.ztka-test')),
];
const e2e = unitOnly
  ? []
  : [...testFiles(path.join(root, 'test', 'e2e', 'dist')), ...testFiles(path.join(root, 'bench', 'dist'))];

if (run(bin('eslint'), ['.']) !== 0 || run(bin('prettier'), ['--check', '--log-level=warn', '.']) !== 0) {
  console.error('test: lint failed (npm run format fixes formatting)');
  process.exit(1);
}

// helm, for the chart tests, and the bench's remotedialer peer: built once from their Go modules and cached
// (testenv/build.sh), before the tests start so that no test's timeout has to cover a first build.
for (const target of ['helm', 'peer']) {
  if (
    e2e.length > 0 &&
    run('bash', ['testenv/build.sh', target], { stdio: ['ignore', 'ignore', 'inherit'] }) !== 0
  ) {
    console.error(`test: building ${target} (testenv/build.sh ${target}) failed`);
    process.exit(1);
  }
}

// The images test runs the agent and controller images: build them first (a second when they are
// current), since a test file gets 5 minutes in all and the first build takes about four.
if (
  e2e.length > 0 &&
  run(process.execPath, ['scripts/images.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] }) !== 0
) {
  console.error('test: npm run images failed');
  process.exit(1);
}

let startedHere = false;
if (e2e.length > 0) {
  const running =
    spawnSync(process.execPath, ['testenv/dist/cli.js', 'status'], { cwd: root, stdio: 'ignore' }).status ===
    0;
  if (!running) {
    if (
      run(process.execPath, ['testenv/dist/cli.js', 'up'], { stdio: ['ignore', 'ignore', 'inherit'] }) !== 0
    ) {
      console.error('test: the test control plane did not start');
      process.exit(1);
    }
    startedHere = true;
  }
}

// A test that hangs fails after 5 minutes instead of holding CI until its limit.
const status = run(process.execPath, [
  '--test',
  '--test-concurrency=2',
  '--test-timeout=300000',
  ...files,
  ...e2e,
]);
if (startedHere && process.env.ZTKA_KEEP_TESTENV !== '1') {
  run(process.execPath, ['testenv/dist/cli.js', 'down']);
}
process.exit(status);
