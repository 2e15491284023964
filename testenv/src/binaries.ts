import { spawn } from 'node:child_process';
import { buildScript } from './paths.js';

/**
 * Returns the directory holding the control plane's binaries, building them first when the cache lacks
 * them. build.sh's progress goes to our stderr; its last stdout line is the directory.
 */
export function ensureBinaries(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [buildScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const dir = out.trim().split('\n').pop();
      if (code === 0 && dir) resolve(dir);
      else reject(new Error(`building the test control plane failed (build.sh exited ${code})`));
    });
  });
}
