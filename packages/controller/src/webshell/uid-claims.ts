// Which shell uids are in use on this host. Several controllers may share a host and a work root (replicas,
// tests); a shell's uid must be its alone, since its limits, its files and the final kill of everything it
// left running all go by uid. A uid is claimed with a lock file (O_EXCL) naming the claiming controller's
// pid; a claim whose controller is gone (a crash) is taken over, after what it left behind is cleaned up.
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
      try {
        await fs.writeFile(file, String(process.pid), { flag: 'wx', mode: 0o600 });
        this.#mine.add(uid);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = Number(await fs.readFile(file, 'utf8').catch(() => ''));
      if (owner === process.pid || alive(owner)) return false;
      // Its controller is gone: nothing of that shell may remain for the next one to inherit.
      await this.#opts.cleanUp(uid);
      await fs.rm(file, { force: true });
    }
    return false;
  }

  async release(uid: number): Promise<void> {
    if (!this.#mine.delete(uid)) return;
    await fs.rm(this.#file(uid), { force: true });
  }

  /** Cleans up and frees every claim of a controller that is gone (at start, after a crash). */
  async sweep(): Promise<void> {
    const names = await fs.readdir(this.#opts.dir).catch(() => [] as string[]);
    for (const name of names) {
      const uid = Number(name);
      if (!Number.isInteger(uid)) continue;
      const owner = Number(await fs.readFile(this.#file(uid), 'utf8').catch(() => ''));
      if (owner === process.pid || alive(owner)) continue;
      await this.#opts.cleanUp(uid);
      await fs.rm(this.#file(uid), { force: true });
    }
  }
}
