// Serves the web console (packages/web's build) at `/`, with the headers that keep a page holding audit
// data safe: a Content-Security-Policy that allows no inline or foreign script, no framing, no sniffing.
// Unknown non-API paths get index.html so the console's own routes survive a reload.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // Mantine sets CSS variables through style attributes; styles cannot run code.
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Where the console's build is: packages/web/dist beside this package. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

export async function registerConsole(app: FastifyInstance, webRoot: string): Promise<boolean> {
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  const index = path.join(webRoot, 'index.html');
  if (!fs.existsSync(index)) {
    app.log.warn({ webRoot }, 'the web console is not built; serving the API only');
    return false;
  }
  await app.register(fastifyStatic, {
    root: webRoot,
    index: ['index.html'],
    wildcard: false,
    decorateReply: true,
  });
  // Hashed assets are immutable; index.html must always be fetched afresh so a new build is picked up.
  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/assets/')) reply.header('cache-control', 'public, max-age=31536000, immutable');
    else if (!req.url.startsWith('/v1/')) reply.header('cache-control', 'no-cache');
  });
  return true;
}

/** Whether a 404 should be answered with the console's index.html (a console route) or as an API miss. */
export function isConsoleRoute(method: string, url: string): boolean {
  return (
    (method === 'GET' || method === 'HEAD') &&
    !url.startsWith('/v1/') &&
    !url.startsWith('/k8s/') &&
    !url.startsWith('/assets/')
  );
}
