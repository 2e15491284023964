import { spawn } from 'node:child_process';
import path from 'node:path';
import { buildScript } from './paths.js';

/** What build.sh builds: the control plane's binaries, or helm for the chart tests. */
export type BuildTarget = 'cluster' | 'helm';

/**
 * Returns the directory holding the target's binaries (the control plane's unless told), building them
 * first when the cache lacks them. build.sh's progress goes to our stderr; its last stdout line is the
 * directory.
 */
export function ensureBinaries(target: BuildTarget = 'cluster'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [buildScript, target], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const dir = out.trim().split('\n').pop();
      if (code === 0 && dir) resolve(dir);
      else {
        const what = target === 'cluster' ? 'the test control plane' : target;
        reject(new Error(`building ${what} failed (build.sh exited ${code})`));
      }
    });
  });
}

let helmBinary: Promise<string> | undefined;

/** The path of helm, built from its Go module on first use and cached beside the control plane's binaries. */
export function ensureHelm(): Promise<string> {
  helmBinary ??= ensureBinaries('helm').then((dir) => path.join(dir, 'helm'));
  return helmBinary;
}
