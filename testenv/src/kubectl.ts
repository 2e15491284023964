import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Older and newer kubectl releases found beside the default one, for version-skew tests. */
export const KUBECTL_VERSIONS = ['1.27', '1.28', '1.29', '1.30', '1.31', '1.32', '1.33'] as const;
export type KubectlVersion = (typeof KUBECTL_VERSIONS)[number];

const SKEW_DIR = '/usr/lib/google-cloud-sdk/bin';

/** Path of the kubectl to run: a pinned release, or ZTKA_KUBECTL / the one on the machine. */
export function kubectlPath(version?: KubectlVersion): string {
  if (version === undefined) return process.env['ZTKA_KUBECTL'] ?? '/usr/bin/kubectl';
  const path = `${SKEW_DIR}/kubectl.${version}`;
  if (!existsSync(path)) throw new Error(`kubectl ${version} is not installed at ${path}`);
  return path;
}

export interface KubectlOptions {
  kubeconfig: string;
  version?: KubectlVersion;
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
}

/** Error of a kubectl run that exited non-zero; keeps what it printed for assertions. */
export class KubectlError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`kubectl ${args.join(' ')} exited ${exitCode}: ${stderr.trim()}`);
  }
}

/** Runs kubectl to completion and returns what it printed, or rejects with a KubectlError. */
export function kubectl(args: readonly string[], opts: KubectlOptions): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      kubectlPath(opts.version),
      ['--kubeconfig', opts.kubeconfig, ...args],
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: kubectlEnv() },
      (err, stdout, stderr) => {
        if (err)
          reject(new KubectlError(args, typeof err.code === 'number' ? err.code : null, stdout, stderr));
        else resolve({ stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** The environment kubectl runs in: no KUBECONFIG from the caller, no kuberc or cache surprises. */
export function kubectlEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['KUBECONFIG'];
  env['KUBECTL_KUBERC'] = 'false';
  return env;
}

/** Starts a long-running kubectl (logs -f, port-forward, attach) with piped stdio; the caller stops it. */
export function startKubectl(
  args: readonly string[],
  opts: Omit<KubectlOptions, 'input' | 'timeoutMs'>,
): ChildProcessWithoutNullStreams {
  return spawn(kubectlPath(opts.version), ['--kubeconfig', opts.kubeconfig, ...args], { env: kubectlEnv() });
}

/**
 * Resolves with the first match of `pattern` in what `child` writes to stdout (and stderr), rejecting if the
 * process exits or `timeoutMs` passes first; the error carries everything it printed.
 */
export function waitForOutput(
  child: ChildProcessWithoutNullStreams,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const done = (err?: Error, match?: RegExpMatchArray) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
      if (match) resolve(match);
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const match = seen.match(pattern);
      if (match) done(undefined, match);
    };
    const onExit = (code: number | null) =>
      done(new Error(`kubectl exited (${code}) before printing ${pattern}; it printed:\n${seen}`));
    const timer = setTimeout(
      () => done(new Error(`timed out waiting for ${pattern}; kubectl printed:\n${seen}`)),
      timeoutMs,
    );
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', onExit);
  });
}
