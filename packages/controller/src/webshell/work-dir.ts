// Each shell session's directories on the host, made by the controller (root) for the shell's own user:
//
//   <root>/ztka-shell-<uid>-XXXXXX/   root 0711: reachable to the shell's user, not listable
//     home/                     the shell's user, 0700: kubectl's HOME and working directory (/session inside);
//                               a tmpfs of its own where the controller may mount one, so what a shell writes
//                               is bounded in total (its size) and charged to the shell's memory cgroup
//     run/                      root 0711, read-only inside (/run/ztka)
//       sandbox-init.mjs        root 0444: the sandbox's first program
//       kubeconfig              the shell's user, 0400: the session's kube token
//       kube.sock               the shell's user, 0600: the controller's kube proxy for this shell alone
//
// Everything is removed when the session ends.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const KUBECONFIG_FILE = 'kubeconfig';
/** Written first, then renamed over KUBECONFIG_FILE, so kubectl never reads half a file. */
export const KUBECONFIG_TEMP_FILE = 'kubeconfig.new';
export const SOCKET_FILE = 'kube.sock';
export const INIT_FILE = 'sandbox-init.mjs';
/** `ztka-shell-<uid>-XXXXXX`: whose it is shows in the name, so what a dead controller left is found. */
export const WORK_DIR_PREFIX = 'ztka-shell-';

export interface WorkDir {
  root: string;
  /** The shell's private directory: kubectl's HOME and working directory. */
  home: string;
  /** What the sandbox sees read-only: its first program, the kubeconfig and the kube socket. */
  run: string;
  /** Whether `home` is a tmpfs of bounded size; without it only each file's size is bounded. */
  bounded: boolean;
}

export async function createWorkDir(
  root: string,
  uid: number,
  initSource: string,
  homeBytes: number,
): Promise<WorkDir> {
  const dir = await fs.mkdtemp(path.join(root, `${WORK_DIR_PREFIX}${uid}-`));
  const work: WorkDir = {
    root: dir,
    home: path.join(dir, 'home'),
    run: path.join(dir, 'run'),
    bounded: false,
  };
  try {
    await fs.chmod(dir, 0o711);
    await fs.mkdir(work.home, { mode: 0o700 });
    work.bounded = await mountHome(work.home, uid, homeBytes);
    await fs.chown(work.home, uid, uid);
    await fs.mkdir(work.run, { mode: 0o711 });
    await fs.chmod(work.run, 0o711); // past the umask
    await fs.copyFile(initSource, path.join(work.run, INIT_FILE));
    await fs.chmod(path.join(work.run, INIT_FILE), 0o444);
  } catch (err) {
    await removeWorkDir(work.root);
    throw err;
  }
  return work;
}

export async function writeKubeconfig(work: WorkDir, uid: number, yaml: string): Promise<string> {
  const file = path.join(work.run, KUBECONFIG_FILE);
  const temp = path.join(work.run, KUBECONFIG_TEMP_FILE);
  await fs.rm(temp, { force: true });
  // O_EXCL: never write through a link that something else put there.
  await fs.writeFile(temp, yaml, { mode: 0o400, flag: 'wx' });
  await fs.chown(temp, uid, uid);
  await fs.rename(temp, file);
  return file;
}

/**
 * Mounts a tmpfs of `bytes` on the home directory: no device files, no setuid, nothing executable. Needs
 * the privilege to mount (root, as the sandbox itself does); false when it is not there.
 */
async function mountHome(home: string, uid: number, bytes: number): Promise<boolean> {
  const options = `size=${bytes},mode=0700,uid=${uid},gid=${uid},nosuid,nodev,noexec`;
  try {
    await run('mount', ['-t', 'tmpfs', '-o', options, 'ztka-shell', home], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Removes a session's directories; its home's tmpfs, if any, is unmounted first (also one a crash left). */
export async function removeWorkDir(root: string): Promise<void> {
  await run('umount', ['--lazy', path.join(root, 'home')], { timeout: 10_000 }).catch(() => undefined);
  await fs.rm(root, { recursive: true, force: true, maxRetries: 3 });
}
