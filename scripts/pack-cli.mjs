#!/usr/bin/env node
// `npm run pack:cli`: one tarball that `npm install -g <tarball>` installs without a registry, putting `ztka`
// on PATH. The CLI's workspace dependency (@ztka/protocol) is not published, so the tarball carries every
// runtime dependency itself (npm's bundleDependencies): the compiled CLI without its tests, and each
// dependency as installed here. The tarball's path is the last line printed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cliDir = path.join(root, 'packages', 'cli');
const outDir = path.join(root, 'dist', 'cli');

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** Workspace packages by name, from the root package.json's workspaces. */
function workspaces() {
  const byName = new Map();
  for (const pattern of readJson(path.join(root, 'package.json')).workspaces ?? []) {
    const base = pattern.replace(/\/\*$/, '');
    const dirs = pattern.endsWith('/*')
      ? fs.readdirSync(path.join(root, base)).map((d) => path.join(root, base, d))
      : [path.join(root, base)];
    for (const dir of dirs) {
      const manifest = path.join(dir, 'package.json');
      if (fs.existsSync(manifest)) byName.set(readJson(manifest).name, dir);
    }
  }
  return byName;
}

/** Where Node would load `name` from, for a package in `fromDir`. */
function installedDir(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (dir === path.dirname(dir)) throw new Error(`pack-cli: ${name} is not installed; run npm ci`);
  }
}

/** Compiled output only: no tests, test helpers, source maps or declarations. */
function copyBuilt(from, to) {
  fs.cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const name = path.basename(src);
      if (fs.statSync(src).isDirectory()) return name !== 'testing';
      return name.endsWith('.js') && !name.includes('.test.');
    },
  });
}

/** A workspace package's manifest as published: runtime fields only. */
function publishedManifest(manifest, extra = {}) {
  const dropped = new Set(['devDependencies', 'scripts', 'private', 'workspaces']);
  return { ...Object.fromEntries(Object.entries(manifest).filter(([k]) => !dropped.has(k))), ...extra };
}

const ws = workspaces();
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-pack-cli-'));
try {
  // The runtime dependency closure of the CLI, each copied once into the stage's node_modules.
  const bundled = new Map();
  const visit = (name, fromDir) => {
    if (bundled.has(name)) return;
    const dir = ws.get(name) ?? installedDir(name, fromDir);
    const manifest = readJson(path.join(dir, 'package.json'));
    const dest = path.join(stage, 'node_modules', name);
    if (ws.has(name)) {
      fs.mkdirSync(dest, { recursive: true });
      copyBuilt(path.join(dir, 'dist'), path.join(dest, 'dist'));
      fs.writeFileSync(path.join(dest, 'package.json'), JSON.stringify(publishedManifest(manifest), null, 2));
    } else {
      fs.cpSync(dir, dest, {
        recursive: true,
        filter: (src) => !src.slice(dir.length).includes('node_modules'),
      });
    }
    bundled.set(name, manifest.version);
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, dir);
  };
  const cli = readJson(path.join(cliDir, 'package.json'));
  for (const dep of Object.keys(cli.dependencies ?? {})) visit(dep, cliDir);

  copyBuilt(path.join(cliDir, 'dist'), path.join(stage, 'dist'));
  fs.copyFileSync(path.join(cliDir, 'README.md'), path.join(stage, 'README.md'));
  const manifest = publishedManifest(cli, {
    // Pinned to what was tested here, and carried inside the tarball.
    dependencies: Object.fromEntries(Object.keys(cli.dependencies ?? {}).map((d) => [d, bundled.get(d)])),
    bundleDependencies: [...bundled.keys()].sort(),
    files: ['dist', 'README.md'],
    engines: { node: '>=20.10' },
  });
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
  fs.chmodSync(path.join(stage, 'dist', 'main.js'), 0o755);

  fs.mkdirSync(outDir, { recursive: true });
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', outDir], {
      cwd: stage,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const tarball = path.join(outDir, packed.filename);
  console.error(
    `pack-cli: ${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} KiB, bundling ${[...bundled]
      .map(([n, v]) => `${n}@${v}`)
      .join(', ')}`,
  );
  console.log(tarball);
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
