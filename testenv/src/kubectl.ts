import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Older and newer kubectl releases found beside the default one, for version-skew tests. */
export const KUBECTL_VERSIONS = ['1.27', '1.28', '1.29', '1.30', '1.31', '1.32', '1.33'] as const;
export type KubectlVersion = (typeof KUBECTL_VERSIONS)[number];

const SKEW_DIR = '/usr/lib/google-cloud-sdk/bin';

/** Path of the kubectl to run: a pinned release, or ZTKA_KUBECTL / the one on the machine. */
export function kubectlPath(version?: KubectlVersion): string {
  if (version === undefined) return process.env['ZTKA_KUBECTL'] ?? '/usr/bin/kubectl';
  const file = `${SKEW_DIR}/kubectl.${version}`;
  if (!existsSync(file)) throw new Error(`kubectl ${version} is not installed at ${file}`);
  return file;
}

export interface KubectlOptions {
  kubeconfig: string;
  version?: KubectlVersion;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Extra environment (e.g. PATH for an exec-credential plugin). */
  env?: NodeJS.ProcessEnv;
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
      ['--kubeconfig', opts.kubeconfig, '--cache-dir', cacheDir(opts.version), ...args],
      {
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...kubectlEnv(), ...opts.env },
      },
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

/**
 * A discovery cache per kubectl release: releases write the cache in different shapes, and one must not
 * read what another wrote.
 */
function cacheDir(version: KubectlVersion | undefined): string {
  return path.join(os.tmpdir(), 'ztka-kubectl-cache', version ?? 'default');
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
  const child = spawn(kubectlPath(opts.version), ['--kubeconfig', opts.kubeconfig, ...args], {
    env: kubectlEnv(),
  });
  transcript(child);
  return child;
}

/** Everything a streaming kubectl printed so far, and how far earlier waits have read. */
interface Transcript {
  text: string;
  cursor: number;
  exited: number | null | undefined;
  wake: Set<() => void>;
}

const transcripts = new WeakMap<ChildProcessWithoutNullStreams, Transcript>();

/** Records a child's output from the first call on, so nothing printed between two waits is lost. */
function transcript(child: ChildProcessWithoutNullStreams): Transcript {
  let t = transcripts.get(child);
  if (!t) {
    const record: Transcript = { text: '', cursor: 0, exited: undefined, wake: new Set() };
    const notify = () => record.wake.forEach((fn) => fn());
    const onData = (chunk: Buffer) => {
      record.text += chunk.toString('utf8');
      notify();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      record.exited = code;
      notify();
    });
    transcripts.set(child, record);
    t = record;
  }
  return t;
}

/**
 * Resolves with the next match of `pattern` in what `child` prints (stdout and stderr), reading on from the
 * previous match, and rejects if the process exits or `timeoutMs` passes first; the error carries
 * everything it printed. Call it right after starting the child so no output is missed.
 */
export function waitForOutput(
  child: ChildProcessWithoutNullStreams,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<RegExpMatchArray> {
  const t = transcript(child);
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = t.text.slice(t.cursor).match(pattern);
      if (match) {
        t.cursor += (match.index ?? 0) + match[0].length;
        finish();
        resolve(match);
      } else if (t.exited !== undefined) {
        finish();
        reject(new Error(`kubectl exited (${t.exited}) before printing ${pattern}; it printed:\n${t.text}`));
      }
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`timed out waiting for ${pattern}; kubectl printed:\n${t.text}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      t.wake.delete(check);
    };
    t.wake.add(check);
    check();
  });
}
