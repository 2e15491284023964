// Installs Debian packages a test needs (PostgreSQL, Chromium) when the machine lacks them: the one place
// tests call apt-get. Serialised across test processes by a lock; `apt-get update` only if the install
// fails without it.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { withLock } from './lock.js';

function apt(args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    // apt's output goes to our stderr, so a slow install shows its progress.
    const child = spawn('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
      stdio: ['ignore', 2, 2],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
}

/**
 * Installs `packages` unless `present()` already holds (checked again under the lock). Only root can
 * install: for anyone else a clear error names the command to run.
 */
export async function ensureDebianPackages(
  packages: readonly string[],
  present: () => Promise<boolean>,
  log: (line: string) => void = (l) => console.error(`testenv: ${l}`),
): Promise<void> {
  if (await present()) return;
  if (process.getuid?.() !== 0)
    throw new Error(
      `${packages.join(', ')} missing and only root can install them: apt-get install ${packages.join(' ')}`,
    );
  await withLock(path.join(os.tmpdir(), `ztka-testenv-apt-${packages.join('-')}.lock`), async () => {
    if (await present()) return;
    const install = ['install', '-y', '--no-install-recommends', ...packages];
    log(`installing Debian packages: apt-get ${install.join(' ')}`);
    const started = Date.now();
    if ((await apt(install)) !== 0) {
      log('apt-get install failed; running apt-get update and trying again');
      if ((await apt(['update'])) !== 0) throw new Error('apt-get update failed (its output is above)');
      if ((await apt(install)) !== 0)
        throw new Error(`apt-get install ${packages.join(' ')} failed (its output is above)`);
    }
    if (!(await present()))
      throw new Error(`apt-get installed ${packages.join(' ')}, but it is still not usable`);
    log(`installed ${packages.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
}
