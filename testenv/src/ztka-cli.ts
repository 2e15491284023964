// Runs the real `ztka` CLI (the workspace's built bin) with its own config and cache directories, so tests
// can act as several people at once without touching the user's ~/.config.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './paths.js';

export const ztkaMain = path.join(repoRoot, 'packages/cli/dist/main.js');
/** A directory holding `ztka` as an executable, to put on PATH for kubectl's exec-credential plugin. */
export const ztkaBinDir = path.join(repoRoot, 'node_modules/.bin');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One person's ztka CLI: a config file and a token cache of their own. */
export class ZtkaCli {
  private constructor(readonly home: string) {}

  static async create(): Promise<ZtkaCli> {
    return new ZtkaCli(await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-cli-')));
  }

  /** The environment that makes `ztka` (also when kubectl runs it) use this person's files. */
  get env(): NodeJS.ProcessEnv {
    return {
      ZTKA_CLI_CONFIG: path.join(this.home, 'config', 'config.json'),
      XDG_CACHE_HOME: path.join(this.home, 'cache'),
      PATH: `${ztkaBinDir}:${process.env['PATH'] ?? ''}`,
    };
  }

  run(args: readonly string[], opts: { input?: string } = {}): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        [ztkaMain, ...args],
        { env: { ...process.env, ...this.env }, timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      child.stdin?.end(opts.input ?? '');
    });
  }

  /** Runs and insists on success; returns stdout. */
  async ok(args: readonly string[], opts: { input?: string } = {}): Promise<string> {
    const res = await this.run(args, opts);
    if (res.code !== 0) throw new Error(`ztka ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return res.stdout;
  }

  async remove(): Promise<void> {
    await fs.rm(this.home, { recursive: true, force: true });
  }
}
