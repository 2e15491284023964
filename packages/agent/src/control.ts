// Streams the controller opens to instruct the agent rather than to proxy a request (CONTROL_HEADER): revoke
// some people's service accounts now, keep only those of the people listed, or cancel proxied streams. Only the controller can open
// one: the tunnel is authenticated both ways, and the controller drops every client-sent `x-ztka-*` header.
import http2 from 'node:http2';
import type { Logger } from 'pino';
import { CONTROL_PATHS, type SessionStreams } from '@ztka/protocol';
import type { JitServiceAccounts } from './jit/service-accounts.js';

const MAX_BODY = 4 << 20;

function readJson(stream: http2.ServerHttp2Stream): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else chunks.push(c);
    });
    stream.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err as Error);
      }
    });
    stream.on('error', reject);
  });
}

export function createControlHandler(jit: JitServiceAccounts, log: Logger, proxied: SessionStreams) {
  return async function control(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ): Promise<void> {
    const path = String(headers[':path'] ?? '');
    const reply = (status: number, body: object) => {
      if (stream.destroyed) return;
      stream.respond({ ':status': status, 'content-type': 'application/json' });
      stream.end(JSON.stringify(body));
    };
    try {
      const body = (await readJson(stream)) as { users?: unknown; userIds?: unknown; streams?: unknown };
      const strings = (value: unknown) =>
        Array.isArray(value) ? value.filter((u): u is string => typeof u === 'string') : undefined;
      const users = strings(body.users) ?? [];
      if (path === CONTROL_PATHS.cancel) {
        reply(200, { cancelled: proxied.cancel(stream.session, body.streams) });
      } else if (path === CONTROL_PATHS.revoke) {
        await Promise.all(users.map((u) => jit.revoke(u)));
        log.info({ users: users.length }, 'service accounts revoked');
        reply(200, { removed: users.length });
      } else if (path === CONTROL_PATHS.sync) {
        const removed = await jit.sync(users, strings(body.userIds));
        if (removed > 0) log.info({ removed }, 'service accounts of people without access removed');
        reply(200, { removed });
      } else reply(404, { message: `unknown control path ${path}` });
    } catch (err) {
      log.warn({ path, err: err instanceof Error ? err.message : String(err) }, 'control request failed');
      reply(500, { message: 'control request failed' });
    }
  };
}
