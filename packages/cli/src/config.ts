// Where ztka keeps its login: one JSON file, owner-only, holding the controller's address, the user, the
// API key that `ztka login` obtained and, when given, the CA that controller's certificate chains to.
import { chmod, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError, UsageError } from './errors.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE, writePrivateFile } from './fsutil.js';

export interface StoredConfig {
  server: string;
  username: string;
  /** Absent after `ztka logout`: the non-secret fields stay so the user can see where they were. */
  apiKey?: string;
  apiKeyId?: string;
  /** PEM of the CA to trust for `server`; absent means the system's trust store. */
  ca?: string;
}

/** A config with credentials: what every command except login, version and help needs. */
export interface Login extends StoredConfig {
  apiKey: string;
  apiKeyId: string;
}

type Env = Record<string, string | undefined>;

/** XDG says relative values are invalid and must be ignored. */
function xdgDir(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value !== undefined && path.isAbsolute(value) ? value : path.join(os.homedir(), fallback);
}

export function configPath(env: Env = process.env): string {
  const override = env['ZTKA_CLI_CONFIG'];
  if (override !== undefined && override !== '') return path.resolve(override);
  return path.join(xdgDir(env, 'XDG_CONFIG_HOME', '.config'), 'ztka', 'config.json');
}

export function cacheDir(env: Env = process.env): string {
  return path.join(xdgDir(env, 'XDG_CACHE_HOME', '.cache'), 'ztka');
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * The canonical form of a controller URL (scheme, host, port, optional base path, no trailing slash), so
 * that `--server` values compare equal however they were typed. Plain http is allowed to loopback only:
 * the login password and API key would otherwise cross the network in clear text.
 */
export function normalizeServer(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid server URL "${text}": use https://host[:port]`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`invalid server URL "${text}": use https://host[:port]`);
  }
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    throw new UsageError(`refusing plain http to ${url.host}: use https://`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new UsageError(`invalid server URL "${text}": no credentials, query or fragment allowed`);
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseConfig(file: string, text: string): StoredConfig {
  // Not overwritten by login either: a path pointing at some other file (a mistyped variable, the
  // controller's YAML) must not be replaced by ztka login.
  const damaged = (why: string): CliError =>
    new CliError(
      `${file} is not a ztka CLI config (${why}): remove it, or set ZTKA_CLI_CONFIG to another path`,
    );
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw damaged('not JSON');
  }
  if (!isRecord(data)) throw damaged('not an object');
  const config: StoredConfig = { server: '', username: '' };
  for (const key of ['server', 'username', 'apiKey', 'apiKeyId', 'ca'] as const) {
    const value = data[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw damaged(`"${key}" is not a string`);
    config[key] = value;
  }
  if (config.server === '') throw damaged('no server');
  return config;
}

/** The stored config, or undefined when there is none yet. */
export async function readConfig(file: string = configPath()): Promise<StoredConfig | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  const config = parseConfig(file, text);
  // A copy made with a loose mode (cp, an editor) leaks the API key to other local users; close it.
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) await chmod(file, PRIVATE_FILE_MODE).catch(() => undefined);
  return config;
}

export async function writeConfig(config: StoredConfig, file: string = configPath()): Promise<void> {
  // Tighten only ztka's own directory: with ZTKA_CLI_CONFIG the parent may be any directory the user chose.
  const own = file === configPath({ ...process.env, ZTKA_CLI_CONFIG: undefined });
  await ensurePrivateDir(path.dirname(file), own);
  await writePrivateFile(file, `${JSON.stringify(config, null, 2)}\n`);
}

export const NOT_LOGGED_IN = 'not logged in: run ztka login --server URL --username U';

/**
 * The stored login, checked against `--server` when given. A different server is refused rather than
 * sent this server's API key.
 */
export async function requireLogin(server?: string): Promise<Login> {
  const config = await readConfig();
  if (config?.apiKey === undefined || config.apiKeyId === undefined) throw new CliError(NOT_LOGGED_IN);
  if (server !== undefined) {
    const wanted = normalizeServer(server);
    if (wanted !== config.server) {
      throw new CliError(
        `not logged in to ${wanted} (logged in to ${config.server}): run ztka login --server ${wanted} --username U`,
      );
    }
  }
  return { ...config, apiKey: config.apiKey, apiKeyId: config.apiKeyId };
}
