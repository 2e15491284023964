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
