import { spawn } from 'node:child_process';
import path from 'node:path';
import { buildScript } from './paths.js';

/** What build.sh builds: the control plane's binaries, helm for the chart tests, or the bench's peer. */
export type BuildTarget = 'cluster' | 'helm' | 'peer';

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
        const what = { cluster: 'the test control plane', helm: 'helm', peer: 'the remotedialer peer' }[
          target
        ];
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

let peerBinary: Promise<string> | undefined;

/** The path of remotedialer-peer (testenv/go/remotedialer), the bench's peer of ztka's shape. */
export function ensureRemotedialerPeer(): Promise<string> {
  peerBinary ??= ensureBinaries('peer').then((dir) => path.join(dir, 'remotedialer-peer'));
  return peerBinary;
}
