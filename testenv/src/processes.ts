import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ComponentState } from './state.js';

/**
 * Starts a component detached from this process, so the environment outlives the `up` command, with its
 * output appended to its own log file.
 */
export function startComponent(
  name: string,
  binary: string,
  args: string[],
  log: string,
  cwd: string,
): ComponentState {
  const out = fs.openSync(log, 'a');
  try {
    const child = spawn(binary, args, { cwd, detached: true, stdio: ['ignore', out, out] });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${binary})`);
    child.unref();
    return { name, pid: child.pid, binary, log };
  } finally {
    fs.closeSync(out);
  }
}

/**
 * True when `pid` is alive and still runs `binary`. Checking the executable guards against a pid that the
 * kernel has handed to an unrelated process since `up` recorded it.
 */
export function isOurs(component: ComponentState): boolean {
  let cmdline: string;
  try {
    cmdline = fs.readFileSync(`/proc/${component.pid}/cmdline`, 'utf8');
  } catch {
    return false;
  }
  if (cmdline === '') return false; // a zombie: exited, not yet reaped
  return cmdline.split('\0')[0] === component.binary;
}

/** Stops one component: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopComponent(component: ComponentState, graceMs = 10_000): Promise<void> {
  if (!isOurs(component)) return;
  process.kill(component.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurs(component)) return;
    await sleep(100);
  }
  if (isOurs(component)) process.kill(component.pid, 'SIGKILL');
  while (isOurs(component)) await sleep(50);
}

/** The last lines of a component's log, to explain why it failed. */
export function logTail(log: string, lines = 20): string {
  try {
    return fs.readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
