// Runs an image from an OCI archive as a kubelet runs a pod's container: the image's entrypoint, user and
// environment, the pod's args and env on top, bind mounts for its volumes, a read-only root filesystem, no
// capabilities and no privilege escalation, on the host's network (so that it reaches loopback servers).
//
// With podman where it can run containers on this machine (rootful; crun, or runc where crun refuses a
// hybrid cgroup hierarchy; both installed with apt-get when missing). Otherwise the image's root is unpacked (skopeo, umoci) and its entrypoint run
// with util-linux: `unshare --mount` for a mount namespace holding the read-only root and the volumes, then
// `setpriv --no-new-privs` and `chroot --userspec` as the image's user with the image's environment. That
// fallback shares the host's PID namespace and runs in / rather than the image's working directory.
// ZTKA_IMAGE_RUNTIME=podman|chroot picks one.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianPackages } from '@ztka/testenv';
import { run } from './netns.js';

export interface Mount {
  source: string;
  target: string;
  /** Read-only unless false. */
  readOnly?: boolean;
}

export interface ContainerSpec {
  archive: string;
  /** Appended to the image's entrypoint (a container's `args`). */
  args?: readonly string[];
  env?: Record<string, string>;
  mounts?: readonly Mount[];
  /** The pod's runAsUser; the image's user when absent. */
  user?: number;
}

export interface Container {
  readonly runtime: 'podman' | 'chroot';
  output(): string;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

type Runtime = { kind: 'podman'; global: string[]; run: string[] } | { kind: 'chroot' };

const images = new Map<string, Promise<string>>();
let runtime: Promise<Runtime> | undefined;

/** Loads an archive into podman's store once per process and returns the image's name. */
function podmanImage(archive: string): Promise<string> {
  let image = images.get(archive);
  if (!image) {
    image = run(['podman', 'load', '--quiet', '--input', archive], { timeoutMs: 180_000 }).then(
      ({ stdout }) => {
        const name = /Loaded image[^:]*:\s*(\S+)/.exec(stdout)?.[1];
        if (!name) throw new Error(`podman load named no image: ${stdout}`);
        return name;
      },
    );
    images.set(archive, image);
  }
  return image;
}

/** Which runtime runs containers here: podman if `--version` runs in the image, else the chroot fallback. */
function pickRuntime(archive: string): Promise<Runtime> {
  runtime ??= (async (): Promise<Runtime> => {
    const wanted = process.env['ZTKA_IMAGE_RUNTIME'];
    if (wanted === 'chroot') return { kind: 'chroot' };
    const hardNofile = Number((await run(['sh', '-c', 'ulimit -Hn'])).stdout.trim()) || 1024;
    // podman's default limits (over a million open files) may exceed this session's own hard limits.
    const limits = ['--ulimit', `nofile=${Math.min(hardNofile, 65536)}`, '--ulimit', 'nproc=4096'];
    const failures: string[] = [];
    const installed = (cmd: string) => run(['sh', '-c', `command -v ${cmd}`], { allowFailure: true });
    const image = await ensureDebianPackages(['podman', 'runc'], async () =>
      (await Promise.all([installed('podman'), installed('runc')])).every((r) => r.code === 0),
    )
      .then(() => podmanImage(archive))
      .catch((err: Error) => void failures.push(err.message));
    for (const global of [[], ['--runtime', 'runc']]) {
      if (!image) break;
      const probe = await run(['podman', ...global, 'run', '--rm', ...limits, image, '--version'], {
        timeoutMs: 60_000,
        allowFailure: true,
      });
      if (probe.code === 0) return { kind: 'podman', global, run: limits };
      failures.push(`podman ${global.join(' ')}: ${probe.stderr.trim()}`);
    }
    if (wanted === 'podman') throw new Error(`podman cannot run containers here:\n${failures.join('\n')}`);
    console.error(
      `containers: podman cannot run containers here, using unshare and chroot:\n${failures.join('\n')}`,
    );
    return { kind: 'chroot' };
  })();
  return runtime;
}

/** Removes the images this process loaded into podman's store. */
export async function removeImages(): Promise<void> {
  const names = await Promise.all([...images.values()].map((p) => p.catch(() => undefined)));
  images.clear();
  for (const name of names) {
    if (name) await run(['podman', 'rmi', '--ignore', name], { timeoutMs: 60_000, allowFailure: true });
  }
}

export async function startContainer(spec: ContainerSpec): Promise<Container> {
  const rt = await pickRuntime(spec.archive);
  return rt.kind === 'podman' ? startPodman(spec, rt) : startChroot(spec);
}

function collect(child: ReturnType<typeof spawn>) {
  let text = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (text += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (text += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { output: () => text, exited };
}

async function startPodman(
  spec: ContainerSpec,
  rt: Extract<Runtime, { kind: 'podman' }>,
): Promise<Container> {
  const image = await podmanImage(spec.archive);
  const name = `ztka-e2e-${randomBytes(4).toString('hex')}`;
  const args = [
    ...rt.global,
    'run',
    '--rm',
    '--name',
    name,
    '--network',
    'host',
    '--read-only',
    '--read-only-tmpfs=false',
    '--cap-drop',
    'all',
    '--security-opt',
    'no-new-privileges',
    ...rt.run,
    ...(spec.user === undefined ? [] : ['--user', String(spec.user)]),
    ...(spec.mounts ?? []).flatMap((m) => [
      '--volume',
      `${m.source}:${m.target}:${m.readOnly === false ? 'rw' : 'ro'}`,
    ]),
    ...Object.entries(spec.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    image,
    ...(spec.args ?? []),
  ];
  const child = spawn('podman', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const { output, exited } = collect(child);
  return {
    runtime: 'podman',
    output,
    exited,
    stop: async () => {
      await run(['podman', 'stop', '--ignore', '--time', '10', name], {
        timeoutMs: 30_000,
        allowFailure: true,
      });
      await exited;
    },
  };
}

// Runs in the new mount namespace: $1 the root, $2 the number of mounts, then source, target and ro|rw of
// each, then the command. Device nodes and /proc come from the host.
const ENTER = `set -e
root=$1; n=$2; shift 2
mount --bind "$root" "$root"
while [ "$n" -gt 0 ]; do
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$root$2"; fi
  shift 3; n=$((n - 1))
done
for d in null zero random urandom; do touch "$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done
mount -t proc proc "$root/proc"
mount -o remount,bind,ro "$root"
exec "$@"`;

interface BundleConfig {
  process: { args: string[]; env: string[]; user: { uid: number; gid: number } };
}

async function startChroot(spec: ContainerSpec): Promise<Container> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-container-'));
  await run(['skopeo', 'copy', '--quiet', `oci-archive:${spec.archive}`, `oci:${dir}/layout:image`], {
    timeoutMs: 180_000,
  });
  await run(['umoci', 'unpack', '--image', `${dir}/layout:image`, `${dir}/bundle`], { timeoutMs: 180_000 });
  const config = JSON.parse(await fs.readFile(`${dir}/bundle/config.json`, 'utf8')) as BundleConfig;
  const rootfs = `${dir}/bundle/rootfs`;
  const { uid, gid } = config.process.user;
  const which = async (cmd: string) => (await run(['sh', '-c', `command -v ${cmd}`])).stdout.trim();
  const env = [...config.process.env, ...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const mounts = spec.mounts ?? [];
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      ENTER,
      'sh',
      rootfs,
      String(mounts.length),
      ...mounts.flatMap((m) => [m.source, m.target, m.readOnly === false ? 'rw' : 'ro']),
      await which('setpriv'),
      '--no-new-privs',
      '--bounding-set=-all,+setuid,+setgid,+sys_chroot',
      await which('env'),
      '-i',
      ...env,
      await which('chroot'),
      `--userspec=${spec.user ?? uid}:${gid}`,
      `--groups=${gid}`,
      rootfs,
      ...config.process.args,
      ...(spec.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { output, exited } = collect(child);
  void exited.then(() => fs.rm(dir, { recursive: true, force: true }));
  return {
    runtime: 'chroot',
    output,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
