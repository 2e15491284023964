// One control group per browser shell, holding every process of its sandbox: memory, task count and CPU
// share are bounded for the shell as a whole, whatever kubectl forks. cgroup v2 (one hierarchy) and v1
// (one per controller, as on hybrid hosts) are both supported; the group is made under the controller's
// own, so whatever bounds the controller bounds its shells too. Where no group can be made (no cgroupfs,
// no permission, no delegation), this says so and the shell relies on its per-process rlimits alone.
import fs from 'node:fs/promises';
import path from 'node:path';

export interface CgroupLimits {
  memoryBytes: number;
  /** Tasks (processes and threads) at once. */
  tasks: number;
  /** CPU time as a percentage of one core. */
  cpuPercent: number;
}

export interface ShellCgroup {
  /** The `cgroup.procs` files a process writes its pid to, to join the group (one per v1 hierarchy). */
  readonly procsFiles: readonly string[];
  readonly version: 1 | 2;
  /** Removes the group; its processes must have exited. */
  remove(): Promise<void>;
}

const ROOT = '/sys/fs/cgroup';
const CFS_PERIOD_US = 100_000;

/** The controller's own group in each hierarchy, from /proc/self/cgroup (`id:controllers:path`). */
async function ownGroups(): Promise<Map<string, string>> {
  const groups = new Map<string, string>();
  for (const line of (await fs.readFile('/proc/self/cgroup', 'utf8')).split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const controller of (m[1] ?? '').split(',')) groups.set(controller, m[2] ?? '/');
  }
  return groups;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

async function removeDir(dir: string): Promise<void> {
  // The kernel frees a group a moment after its last task is reaped.
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function createV2(name: string, limits: CgroupLimits, own: string): Promise<ShellCgroup> {
  const parent = path.join(ROOT, own);
  // Delegation: the parent must hand these controllers down to its children.
  await fs.writeFile(path.join(parent, 'cgroup.subtree_control'), '+memory +pids +cpu');
  const dir = path.join(parent, name);
  await fs.mkdir(dir);
  try {
    await fs.writeFile(path.join(dir, 'memory.max'), String(limits.memoryBytes));
    await fs.writeFile(path.join(dir, 'memory.swap.max'), '0').catch(() => undefined); // no swap: fine
    await fs.writeFile(path.join(dir, 'pids.max'), String(limits.tasks));
    await fs.writeFile(
      path.join(dir, 'cpu.max'),
      `${Math.round((limits.cpuPercent / 100) * CFS_PERIOD_US)} ${CFS_PERIOD_US}`,
    );
  } catch (err) {
    await removeDir(dir).catch(() => undefined);
    throw err;
  }
  return { procsFiles: [path.join(dir, 'cgroup.procs')], version: 2, remove: () => removeDir(dir) };
}

async function createV1(name: string, limits: CgroupLimits, own: Map<string, string>): Promise<ShellCgroup> {
  const settings: Array<[string, string, string]> = [
    ['memory', 'memory.limit_in_bytes', String(limits.memoryBytes)],
    ['pids', 'pids.max', String(limits.tasks)],
    ['cpu', 'cpu.cfs_quota_us', String(Math.round((limits.cpuPercent / 100) * CFS_PERIOD_US))],
  ];
  const made: string[] = [];
  try {
    for (const [controller, file, value] of settings) {
      const dir = path.join(ROOT, controller, own.get(controller) ?? '/', name);
      await fs.mkdir(dir);
      made.push(dir);
      if (controller === 'cpu')
        await fs.writeFile(path.join(dir, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
      await fs.writeFile(path.join(dir, file), value);
      // Memory and swap together no more than memory alone: no swap. The file exists only where the kernel
      // accounts swap (swapaccount=1); without it there is nothing to bound.
      if (controller === 'memory')
        await fs
          .writeFile(path.join(dir, 'memory.memsw.limit_in_bytes'), value)
          .catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
    }
  } catch (err) {
    await Promise.all(made.map((dir) => removeDir(dir).catch(() => undefined)));
    throw err;
  }
  return {
    procsFiles: made.map((dir) => path.join(dir, 'cgroup.procs')),
    version: 1,
    remove: async () => {
      await Promise.all(made.map(removeDir));
    },
  };
}

/** Removes the group `name` if a shell that was not cleaned up (a crash) left it; its tasks must be gone. */
export async function removeStaleCgroup(name: string): Promise<void> {
  const own = await ownGroups();
  const dirs = (await exists(path.join(ROOT, 'cgroup.controllers')))
    ? [path.join(ROOT, own.get('') ?? '/', name)]
    : ['memory', 'pids', 'cpu'].map((c) => path.join(ROOT, c, own.get(c) ?? '/', name));
  for (const dir of dirs) await removeDir(dir);
}

/**
 * Makes the group `name` with `limits`, or throws why it cannot (the caller decides whether that is fatal).
 */
export async function createShellCgroup(name: string, limits: CgroupLimits): Promise<ShellCgroup> {
  const own = await ownGroups();
  if (await exists(path.join(ROOT, 'cgroup.controllers'))) return createV2(name, limits, own.get('') ?? '/');
  for (const controller of ['memory', 'pids', 'cpu']) {
    if (!(await exists(path.join(ROOT, controller, 'cgroup.procs'))))
      throw new Error(`no cgroup v1 ${controller} hierarchy at ${path.join(ROOT, controller)}`);
  }
  return createV1(name, limits, own);
}
