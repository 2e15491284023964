// Each shell session's directories on the host, made by the controller (root) for the shell's own user:
//
//   <root>/ztka-shell-<uid>-XXXXXX/   root 0711: reachable to the shell's user, not listable
//     home/                     the shell's user, 0700: kubectl's HOME and working directory (/session inside)
//     run/                      root 0711, read-only inside (/run/ztka)
//       sandbox-init.mjs        root 0444: the sandbox's first program
//       kubeconfig              the shell's user, 0400: the session's kube token
//       kube.sock               the shell's user, 0600: the controller's kube proxy for this shell alone
//
// Everything is removed when the session ends.
import fs from 'node:fs/promises';
import path from 'node:path';

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
}

export async function createWorkDir(root: string, uid: number, initSource: string): Promise<WorkDir> {
  const dir = await fs.mkdtemp(path.join(root, `${WORK_DIR_PREFIX}${uid}-`));
  const work: WorkDir = { root: dir, home: path.join(dir, 'home'), run: path.join(dir, 'run') };
  try {
    await fs.chmod(dir, 0o711);
    await fs.mkdir(work.home, { mode: 0o700 });
    await fs.chown(work.home, uid, uid);
    await fs.mkdir(work.run, { mode: 0o711 });
    await fs.chmod(work.run, 0o711); // past the umask
    await fs.copyFile(initSource, path.join(work.run, INIT_FILE));
    await fs.chmod(path.join(work.run, INIT_FILE), 0o444);
  } catch (err) {
    await removeWorkDir(work);
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

export async function removeWorkDir(work: WorkDir): Promise<void> {
  await fs.rm(work.root, { recursive: true, force: true, maxRetries: 3 });
}
