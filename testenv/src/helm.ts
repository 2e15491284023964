import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ensureHelm } from './binaries.js';

export interface HelmOptions {
  /** The cluster to talk to; left out for commands that need none (lint, template). */
  kubeconfig?: string;
  input?: string;
  timeoutMs?: number;
}

export interface HelmResult {
  stdout: string;
  stderr: string;
}

/** Error of a helm run that exited non-zero; keeps what it printed for assertions. */
export class HelmError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`helm ${args.join(' ')} exited ${exitCode}: ${stderr.trim() || stdout.trim()}`);
  }
}

/**
 * Runs helm (built from its Go module on first use, see build.sh) to completion. Its config, cache and
 * data directories are a throwaway of the test machine's own, so no repository or plugin of the machine's
 * user takes part and nothing is left in their home.
 */
export async function helm(args: readonly string[], opts: HelmOptions = {}): Promise<HelmResult> {
  const binary = await ensureHelm();
  const home = path.join(os.tmpdir(), 'ztka-helm-home');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CONFIG_HOME: path.join(home, 'config'),
    HELM_CACHE_HOME: path.join(home, 'cache'),
    HELM_DATA_HOME: path.join(home, 'data'),
  };
  delete env['KUBECONFIG'];
  const kube = opts.kubeconfig === undefined ? [] : ['--kubeconfig', opts.kubeconfig];
  return new Promise((resolve, reject) => {
    const child = execFile(
      binary,
      [...args, ...kube],
      { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env },
      (err, stdout, stderr) => {
        if (err) reject(new HelmError(args, typeof err.code === 'number' ? err.code : null, stdout, stderr));
        else resolve({ stdout, stderr });
      },
    );
    child.stdin?.end(opts.input);
  });
}
