// The CLI as a person installs it: `npm run pack:cli` makes one tarball, `npm install -g` puts `ztka` on PATH
// from it without a registry, and kubectl then uses the installed `ztka` as its exec-credential plugin.
// Real controller, agent, apiserver and kubectl; nothing of the repository on PATH.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { kubectl, repoRootPath, testEnv, Ztka, type TestEnv } from '@ztka/testenv';

const run = promisify(execFile);
const CLUSTER = 'desktop';
let env: TestEnv;
let z: Ztka;
let home: string;

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-cli-install-'));
});
after(async () => {
  await z?.stop();
  if (home) await fs.rm(home, { recursive: true, force: true });
});

test('the packed CLI installs with npm -g into an empty prefix and serves as kubectl’s exec plugin', async () => {
  const packed = await run(process.execPath, [path.join(repoRootPath, 'scripts', 'pack-cli.mjs')], {
    cwd: repoRootPath,
  });
  const tarball = packed.stdout.trim().split('\n').at(-1) ?? '';
  assert.match(tarball, /\.tgz$/);

  const prefix = path.join(home, 'prefix');
  // --offline: everything the CLI needs is in the tarball.
  await run('npm', ['install', '-g', tarball, '--prefix', prefix, '--offline', '--no-audit', '--no-fund'], {
    env: { ...process.env, npm_config_cache: path.join(home, 'npm-cache') },
  });
  const bin = path.join(prefix, 'bin');
  // Only the installed `ztka` and node itself: not the repository's node_modules/.bin.
  const cliEnv = {
    PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_CACHE_HOME: path.join(home, 'cache'),
  };
  const ztka = (args: string[], input?: string) => {
    const child = run(path.join(bin, 'ztka'), args, { env: cliEnv });
    if (input !== undefined) child.child.stdin?.end(input);
    return child;
  };
  assert.match((await ztka(['--version'])).stdout, /^ztka \d+\.\d+\.\d+/);

  const user = await z.createUser('installed@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  await ztka(
    ['login', '--server', z.url, '--ca-file', z.caFile, '--username', user.username, '--password-stdin'],
    `${user.password}\n`,
  );
  const kubeconfig = path.join(home, 'exec.kubeconfig');
  await ztka(['kubeconfig', '--cluster', CLUSTER, '--exec', '-f', kubeconfig]);
  assert.match(await fs.readFile(kubeconfig, 'utf8'), /command: ztka/);

  const out = await kubectl(['get', 'namespace', 'default', '-o', 'name'], { kubeconfig, env: cliEnv });
  assert.equal(out.stdout.trim(), 'namespace/default');

  // The token kubectl got is cached for the next call, readable by the person alone.
  const tokens = path.join(home, 'cache', 'ztka', 'tokens');
  const cached = await fs.readdir(tokens);
  assert.equal(cached.length, 1);
  assert.equal((await fs.stat(path.join(tokens, cached[0] ?? ''))).mode & 0o777, 0o600);
  const again = await kubectl(['get', 'namespace', 'default', '-o', 'name'], { kubeconfig, env: cliEnv });
  assert.equal(again.stdout.trim(), 'namespace/default');
  assert.deepEqual(await fs.readdir(tokens), cached, 'the second call used the cached token');
});
