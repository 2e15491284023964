// Each shell session's private directory: kubectl's HOME and working directory, holding the session's
// kubeconfig (and kubectl's discovery cache). Nobody else may read it; it is removed when the session ends.
import fs from 'node:fs/promises';
import path from 'node:path';

export const KUBECONFIG_FILE = 'kubeconfig';
/** Written first, then renamed over KUBECONFIG_FILE, so kubectl never reads half a file. */
export const KUBECONFIG_TEMP_FILE = 'kubeconfig.new';

export async function createWorkDir(root: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(root, 'ztka-shell-'));
  await fs.chmod(dir, 0o700); // mkdtemp's default, made explicit
  return dir;
}

export async function writeKubeconfig(dir: string, yaml: string): Promise<string> {
  const file = path.join(dir, KUBECONFIG_FILE);
  const temp = path.join(dir, KUBECONFIG_TEMP_FILE);
  await fs.rm(temp, { force: true });
  // O_EXCL: never write through a link that something else put there.
  await fs.writeFile(temp, yaml, { mode: 0o600, flag: 'wx' });
  await fs.rename(temp, file);
  return file;
}

export async function removeWorkDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
