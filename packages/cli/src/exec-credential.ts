// `ztka token`: kubectl's exec-credential plugin. kubectl runs it before (nearly) every request, so a token
// is cached per (server, cluster) and reused while it has life left; a fresh one costs a controller
// round trip. Cached tokens are bound to the API key that fetched them, so after a new login (perhaps as
// someone else) the old user's tokens are never handed out.
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { KubeToken } from './api.js';
import type { Client } from './client.js';
import { cacheDir } from './config.js';
import { CliError } from './errors.js';
import { ensurePrivateDir, writePrivateFile } from './fsutil.js';

const API_V1 = 'client.authentication.k8s.io/v1';
const API_V1BETA1 = 'client.authentication.k8s.io/v1beta1';
/** Reuse a token while more than this remains... */
const MIN_REMAINING_MS = 60_000;
/** ...unless its whole life is shorter than this; then while more than a quarter of it remains. */
const SHORT_LIFETIME_MS = 120_000;

export interface CachedToken {
  server: string;
  cluster: string;
  apiKeyId: string;
  token: string;
  expiresAt: string;
  /** Local time the token was fetched, for its lifetime. */
  issuedAt: string;
}

export function tokenCacheDir(env: Record<string, string | undefined> = process.env): string {
  return path.join(cacheDir(env), 'tokens');
}

/** The cache file for (server, cluster): hashed, so any cluster name makes a safe file name. */
export function tokenCachePath(server: string, cluster: string, dir: string = tokenCacheDir()): string {
  const key = createHash('sha256').update(`${server}\n${cluster}`).digest('hex').slice(0, 32);
  return path.join(dir, `${key}.json`);
}

/** Whether a cached token may still be handed to kubectl at `now` (epoch ms). */
export function isFresh(entry: Pick<CachedToken, 'expiresAt' | 'issuedAt'>, now: number): boolean {
  const expires = Date.parse(entry.expiresAt);
  const issued = Date.parse(entry.issuedAt);
  if (Number.isNaN(expires) || Number.isNaN(issued)) return false;
  const lifetime = expires - issued;
  const margin = lifetime < SHORT_LIFETIME_MS ? lifetime / 4 : MIN_REMAINING_MS;
  return expires - now > margin;
}

async function readCached(file: string): Promise<CachedToken | undefined> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as Partial<CachedToken>;
    const fields = ['server', 'cluster', 'apiKeyId', 'token', 'expiresAt', 'issuedAt'] as const;
    return fields.every((f) => typeof data[f] === 'string') ? (data as CachedToken) : undefined;
  } catch {
    // Missing, or damaged by a crash or a hand edit: either way, fetch a new token.
    return undefined;
  }
}

/** kubectl sends its expectations in KUBERNETES_EXEC_INFO; answer in the apiVersion it asked for. */
export function execInfoApiVersion(raw: string | undefined): string {
  if (raw === undefined || raw === '') return API_V1;
  try {
    const info = JSON.parse(raw) as { apiVersion?: unknown };
    return info.apiVersion === API_V1BETA1 ? API_V1BETA1 : API_V1;
  } catch {
    return API_V1;
  }
}

/** RFC 3339 without fractional seconds; rounding down so kubectl never holds a token past its expiry. */
function rfc3339(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function execCredential(apiVersion: string, token: string, expiresAt: string): string {
  return JSON.stringify({
    apiVersion,
    kind: 'ExecCredential',
    status: { token, expirationTimestamp: rfc3339(expiresAt) },
  });
}

/** A token for `cluster`: from the cache while fresh, else from POST /v1/tokens (and cached). */
export async function clusterToken(
  client: Client,
  apiKeyId: string,
  cluster: string,
  now: () => number = Date.now,
): Promise<{ token: string; expiresAt: string }> {
  const dir = tokenCacheDir();
  const file = tokenCachePath(client.server, cluster, dir);
  const cached = await readCached(file);
  if (
    cached !== undefined &&
    cached.server === client.server &&
    cached.cluster === cluster &&
    cached.apiKeyId === apiKeyId &&
    isFresh(cached, now())
  ) {
    return cached;
  }
  const issuedAt = new Date(now()).toISOString();
  const answer = await client.json<Partial<KubeToken>>('POST', '/v1/tokens', { cluster });
  if (typeof answer?.token !== 'string' || answer.token === '' || typeof answer.expiresAt !== 'string') {
    throw new CliError(`the server at ${client.server} did not return a token`);
  }
  if (Number.isNaN(Date.parse(answer.expiresAt))) {
    throw new CliError(`the server at ${client.server} returned a token with an invalid expiry`);
  }
  const entry: CachedToken = {
    server: client.server,
    cluster,
    apiKeyId,
    token: answer.token,
    expiresAt: answer.expiresAt,
    issuedAt,
  };
  // The cache is an optimisation: a read-only home must not stop kubectl from getting its token.
  try {
    await ensurePrivateDir(path.dirname(dir), true);
    await ensurePrivateDir(dir, true);
    await writePrivateFile(file, `${JSON.stringify(entry)}\n`);
  } catch {
    // Fetched again next time.
  }
  return entry;
}

/** Deletes the cached tokens fetched with an API key: at logout, nothing secret stays behind. */
export async function forgetTokens(apiKeyId: string): Promise<void> {
  const dir = tokenCacheDir();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const file = path.join(dir, name);
    const entry = await readCached(file);
    if (entry === undefined || entry.apiKeyId === apiKeyId) await rm(file, { force: true });
  }
}
