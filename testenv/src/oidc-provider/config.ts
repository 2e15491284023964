// What the test OpenID Provider reads from its state directory. config.json is read once at start;
// users.json on every use, so a test changes a person's groups, email or standing by rewriting the file.
import fs from 'node:fs/promises';
import path from 'node:path';

export type OidcGrantType =
  'authorization_code' | 'refresh_token' | 'urn:ietf:params:oauth:grant-type:device_code';

export interface OidcClient {
  client_id: string;
  client_secret: string;
  /** Empty for a client that only uses the device flow. */
  redirect_uris: string[];
  grant_types: OidcGrantType[];
  post_logout_redirect_uris?: string[];
  /** client_secret_basic unless said otherwise. */
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post';
}

export interface OidcProviderOptions {
  /** 600 s unless said otherwise. */
  idTokenTtlSeconds?: number;
  /** 600 s unless said otherwise. */
  accessTokenTtlSeconds?: number;
  /** 1 day unless said otherwise. */
  refreshTokenTtlSeconds?: number;
}

export interface OidcProviderConfig extends OidcProviderOptions {
  clients: OidcClient[];
}

export interface OidcUser {
  /** The subject: stable, never shown to the person. */
  sub: string;
  /** What the person types in the login form; the `preferred_username` claim. */
  username: string;
  password: string;
  email: string;
  email_verified: boolean;
  name: string;
  groups: string[];
  /** Refused at login, and their refresh tokens stop working. */
  disabled?: boolean;
}

export const CONFIG_FILE = 'config.json';
export const USERS_FILE = 'users.json';

export async function readConfig(stateDir: string): Promise<OidcProviderConfig> {
  const file = path.join(stateDir, CONFIG_FILE);
  const config = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<OidcProviderConfig>;
  if (!Array.isArray(config.clients)) throw new Error(`${file}: "clients" must be an array`);
  return { ...config, clients: config.clients };
}

export async function readUsers(stateDir: string): Promise<OidcUser[]> {
  const file = path.join(stateDir, USERS_FILE);
  const users = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
  if (!Array.isArray(users)) throw new Error(`${file}: must be an array of users`);
  return users as OidcUser[];
}

/** Writes a file whole or not at all, so the provider never reads half of it. */
export async function writeJsonAtomic(file: string, value: unknown, mode = 0o600): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode });
  await fs.rename(tmp, file);
}
