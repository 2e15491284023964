// Files that hold secrets (the API key, kube tokens): readable by the owner only, from the first byte.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) as 0700. `tighten` also takes group and other access away from an
 * existing directory: right for directories ztka owns, wrong for one the user pointed it at.
 */
export async function ensurePrivateDir(dir: string, tighten: boolean): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (!tighten) return;
  const { mode } = await stat(dir);
  if ((mode & 0o077) !== 0) await chmod(dir, mode & ~0o077 & 0o7777);
}

/**
 * Replaces `file` with `data`, mode 0600. The data goes to a temporary file in the same directory that is
 * renamed over the target, so readers never see half a file and the secret never sits in a looser file.
 */
export async function writePrivateFile(file: string, data: string): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const handle = await open(tmp, 'wx', PRIVATE_FILE_MODE);
  try {
    try {
      // The umask can only remove bits, but be explicit in case the file system ignored the mode.
      await handle.chmod(PRIVATE_FILE_MODE);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Opens `file` for writing in place (so a symlink or a device such as /dev/stdout keeps working), truncated,
 * mode 0600. The mode is set before the first byte is written, so an existing looser file never holds the
 * secret.
 */
export async function openPrivateFileInPlace(file: string): Promise<FileHandle> {
  const handle = await open(file, 'w', PRIVATE_FILE_MODE);
  try {
    if ((await handle.stat()).isFile()) await handle.chmod(PRIVATE_FILE_MODE);
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Writes `data` to `file` in place, mode 0600, as openPrivateFileInPlace opens it. */
export async function writePrivateFileInPlace(file: string, data: string): Promise<void> {
  const handle = await openPrivateFileInPlace(file);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}
