// One kubectl run in a pseudo-terminal, so interactive commands (`exec -it`, `attach`, `-f -`) work and
// Ctrl-C reaches kubectl through the terminal's line discipline. What runs is the sandbox's command line
// (sandbox.ts); this module only owns the terminal and the process group's life.
import fs from 'node:fs';
import { spawn, type IPty } from 'node-pty';

/** How long a process has after SIGHUP before it gets SIGKILL. */
export const KILL_GRACE_MS = 2000;

export const TERM = 'xterm-256color';

export interface KubectlRun {
  /** The program the terminal runs: the sandbox's outermost wrapper, which ends in kubectl. */
  file: string;
  args: string[];
  /** The wrapper's environment; kubectl's own is set inside the sandbox. */
  env: Record<string, string>;
  cwd: string;
  cols: number;
  rows: number;
}

export interface KubectlProcess {
  readonly pid: number;
  onData(listener: (data: string) => void): void;
  /** `code` is the exit status, or 128 + the signal number for a process killed by a signal. */
  onExit(listener: (code: number) => void): void;
  write(data: string): void;
  /** Bytes written that the terminal has not taken yet (kubectl not reading its input). */
  pendingInput(): number;
  /** SIGINT to its process group, as the terminal sends for Ctrl-C. */
  interrupt(): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  /** SIGHUP to the process group, SIGKILL after KILL_GRACE_MS; resolves once it has exited (or given up). */
  terminate(): Promise<void>;
}

/** Waits for `promise`, or `ms` at most. */
async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function signal(pty: IPty, sig: NodeJS.Signals): void {
  try {
    process.kill(-pty.pid, sig); // the pty's session leader leads its process group
  } catch {
    pty.kill(sig);
  }
}

/**
 * node-pty queues what the terminal's kernel buffer cannot take and offers no way to ask how much; its
 * queue (node-pty 1.x's CustomWriteStream) is read here, and kubectl-process.test.ts fails if a release
 * moves it, rather than input piling up unseen.
 */
function inputQueue(pty: IPty): { buffer: Buffer; offset: number }[] | undefined {
  return (pty as unknown as { _writeStream?: { _writeQueue?: { buffer: Buffer; offset: number }[] } })
    ._writeStream?._writeQueue;
}

function queuedInput(pty: IPty): number {
  let bytes = 0;
  for (const task of inputQueue(pty) ?? []) bytes += task.buffer.byteLength - task.offset;
  return bytes;
}

/** Starts kubectl; throws if it is not executable or the pseudo-terminal cannot be created. */
export function spawnKubectl(run: KubectlRun): KubectlProcess {
  fs.accessSync(run.file, fs.constants.X_OK); // else the pty child would only say "execvp(3) failed"
  const pty = spawn(run.file, run.args, {
    name: TERM,
    cols: run.cols,
    rows: run.rows,
    cwd: run.cwd,
    env: run.env,
    encoding: 'utf8',
  });
  let exited = false;
  const exit = new Promise<number>((resolve) =>
    pty.onExit(({ exitCode, signal: sig }) => {
      exited = true;
      // Nobody will read what is still queued, and writing it to the closed terminal only fails.
      inputQueue(pty)?.splice(0);
      resolve(sig ? 128 + sig : exitCode);
    }),
  );
  return {
    pid: pty.pid,
    onData: (listener) => void pty.onData(listener),
    onExit: (listener) => void exit.then(listener),
    write(data) {
      if (!exited) pty.write(data);
    },
    pendingInput: () => queuedInput(pty),
    interrupt() {
      if (!exited) signal(pty, 'SIGINT');
    },
    resize(cols, rows) {
      if (!exited) pty.resize(cols, rows);
    },
    pause: () => pty.pause(),
    resume: () => pty.resume(),
    async terminate() {
      if (exited) return;
      signal(pty, 'SIGHUP');
      await waitAtMost(exit, KILL_GRACE_MS);
      if (exited) return;
      signal(pty, 'SIGKILL');
      await waitAtMost(exit, KILL_GRACE_MS);
    },
  };
}
