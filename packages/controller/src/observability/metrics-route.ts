// /metrics, for a scraper that presents the metrics token. Its labels name clusters and their request
// volumes, which nobody without a credential may learn; so without a token configured the route does not
// exist (the same answer as any unknown path), and with one it answers only a request that bears it.
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { ZtkaError, apiErrorBody } from '@ztka/protocol';
import { bearerToken } from '../auth/authenticate.js';
import { ConfigError } from '../config.js';
import type { TunnelRegistry } from '../tunnel/session.js';
import type { Metrics } from './metrics.js';

/** A token shorter than this is too easily guessed (`openssl rand -hex 32` gives 64 characters). */
const MIN_TOKEN_LENGTH = 32;

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/** Reads the metrics token from its file; only its SHA-256 is kept. */
export async function loadMetricsToken(file: string): Promise<Buffer> {
  let token: string;
  try {
    token = (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new ConfigError(
      `cannot read metricsTokenFile ${file}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token))
    throw new ConfigError(
      `metricsTokenFile ${file} must hold one token of at least ${MIN_TOKEN_LENGTH} characters, without spaces`,
    );
  return digest(token);
}

export function registerMetricsRoute(
  app: FastifyInstance,
  deps: { metrics: Metrics; tunnels: TunnelRegistry; tokenDigest: Buffer },
): void {
  app.get('/metrics', async (req, reply) => {
    const token = bearerToken(req.headers);
    // Digests of equal length, compared in constant time: the answer's timing says nothing of the token.
    if (token === undefined || !timingSafeEqual(digest(token), deps.tokenDigest)) {
      const err = new ZtkaError('unauthorized', 'the metrics token is required');
      return reply.code(err.status).header('www-authenticate', 'Bearer').send(apiErrorBody(err));
    }
    deps.metrics.connectedAgents.set(deps.tunnels.size);
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
