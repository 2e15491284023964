// Which shell uids are in use on this host. Several controllers may share a host and a work root (replicas,
// tests); a shell's uid must be its alone, since its limits, its files and the final kill of everything it
// left running all go by uid. A uid is claimed with a lock file (O_EXCL) naming the claiming controller's
// pid; a claim whose controller is gone (a crash) is taken over, after what it left behind is cleaned up.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface UidClaimsOptions {
  dir: string;
  /** The uids first … first+count-1. */
  first: number;
  count: number;
  /** Cleans up after a shell whose controller died (its processes, directories, cgroup). */
  cleanUp: (uid: number) => Promise<void>;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A takeover guard older than this was left by a controller that died while taking a claim over. */
const TAKEOVER_ABANDONED_MS = 60_000;

export class UidClaims {
  readonly #opts: UidClaimsOptions;
  readonly #mine = new Set<number>();

  constructor(opts: UidClaimsOptions) {
    this.#opts = opts;
  }

  #file(uid: number): string {
    return path.join(this.#opts.dir, String(uid));
  }

  /** A free uid, now this controller's; undefined when every one is held by a live controller. */
  async claim(): Promise<number | undefined> {
    await fs.mkdir(this.#opts.dir, { recursive: true, mode: 0o700 });
    for (let uid = this.#opts.first; uid < this.#opts.first + this.#opts.count; uid++) {
      if (this.#mine.has(uid)) continue;
      if (await this.#take(uid)) return uid;
    }
    return undefined;
  }

  async #take(uid: number): Promise<boolean> {
    const file = this.#file(uid);
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await this.#create(file)) {
        this.#mine.add(uid);
        return true;
      }
      const owner = await this.#owner(uid);
      if (owner === undefined || owner === process.pid || alive(owner)) return false;
      if (!(await this.#takeOver(uid, owner))) return false;
    }
    return false;
  }

  /**
   * Creates the claim with its content in one step: written aside, then hard-linked into place, which fails
   * if the name exists. (An O_EXCL create is visible empty before its pid is written, and an empty claim
   * read by another controller would look abandoned.)
   */
  async #create(file: string): Promise<boolean> {
    // Unique per attempt: two claims of this process may try one uid at once.
    const aside = `${file}.${process.pid}.${randomUUID()}.new`;
    await fs.writeFile(aside, String(process.pid), { mode: 0o600 });
    try {
      await fs.link(aside, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    } finally {
      await fs.rm(aside, { force: true });
    }
  }

  /** The pid in a uid's claim; undefined when there is no claim or it cannot be read. */
  async #owner(uid: number): Promise<number | undefined> {
    const text = await fs.readFile(this.#file(uid), 'utf8').catch(() => '');
    const pid = Number(text);
    return text !== '' && Number.isInteger(pid) ? pid : undefined;
  }

  /**
   * Frees the claim of a controller that is gone, after cleaning up what it left. One controller at a time
   * (a directory made atomically is the guard): two that both saw the dead claim must not both clean up and
   * then remove a claim the first has since made anew.
   */
  async #takeOver(uid: number, deadOwner: number): Promise<boolean> {
    const guard = `${this.#file(uid)}.takeover`;
    try {
      await fs.mkdir(guard, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another controller is taking it over, or died doing so: a guard left for a minute is abandoned.
      const made = await fs.stat(guard).catch(() => undefined);
      if (made && Date.now() - made.mtimeMs > TAKEOVER_ABANDONED_MS)
        await fs.rm(guard, { recursive: true, force: true });
      return false;
    }
    try {
      if ((await this.#owner(uid)) !== deadOwner) return false;
      // Its controller is gone: nothing of that shell may remain for the next one to inherit.
      await this.#opts.cleanUp(uid);
      await fs.rm(this.#file(uid), { force: true });
      return true;
    } finally {
      await fs.rm(guard, { recursive: true, force: true });
    }
  }

  async release(uid: number): Promise<void> {
    if (!this.#mine.delete(uid)) return;
    await fs.rm(this.#file(uid), { force: true });
  }

  /** Cleans up and frees every claim of a controller that is gone (at start, after a crash). */
  async sweep(): Promise<void> {
    const names = await fs.readdir(this.#opts.dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!/^\d+$/.test(name)) continue;
      const uid = Number(name);
      const owner = await this.#owner(uid);
      if (owner === undefined || owner === process.pid || alive(owner)) continue;
      await this.#takeOver(uid, owner);
    }
  }
}
