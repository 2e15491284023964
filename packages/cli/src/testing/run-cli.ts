// Runs the built `ztka` as a user would, in a throwaway home: its own config file and token cache, and
// none of the real user's environment.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Home {
  dir: string;
  configFile: string;
  cacheDir: string;
  env: Record<string, string>;
  /** Writes a logged-in config directly, for tests that are not about login. */
  login(server: string, extra?: Record<string, string>): Promise<void>;
  run(args: string[], options?: { input?: string; env?: Record<string, string> }): Promise<CliResult>;
  remove(): void;
}

export const TEST_API_KEY = 'ztkk_testkeyid.secretpart';

export function makeHome(): Home {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ztka-cli-test-'));
  const configFile = path.join(dir, 'config', 'config.json');
  const cacheDir = path.join(dir, 'cache');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    ZTKA_CLI_CONFIG: configFile,
    XDG_CACHE_HOME: cacheDir,
    XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
  };
  return {
    dir,
    configFile,
    cacheDir,
    env,
    async login(server, extra = {}) {
      await mkdir(path.dirname(configFile), { recursive: true, mode: 0o700 });
      const config = { server, username: 'alice', apiKey: TEST_API_KEY, apiKeyId: 'key-1', ...extra };
      await writeFile(configFile, JSON.stringify(config), { mode: 0o600 });
    },
    run(args, options = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [MAIN, ...args], {
          env: { ...env, ...options.env },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(options.input ?? '');
      });
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
