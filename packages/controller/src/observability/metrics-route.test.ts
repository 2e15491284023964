import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { ConfigError } from '../config.js';
import { TunnelRegistry } from '../tunnel/session.js';
import { createMetrics } from './metrics.js';
import { loadMetricsToken, registerMetricsRoute } from './metrics-route.js';

const TOKEN = 'f'.repeat(20) + '0123456789abcdef0123';

function tokenFile(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-metrics-'));
  const file = path.join(dir, 'token');
  fs.writeFileSync(file, content);
  return file;
}

test('a token file that is missing, short or holds more than one token stops the start', async () => {
  await assert.rejects(loadMetricsToken('/nonexistent/token'), ConfigError);
  await assert.rejects(loadMetricsToken(tokenFile('short\n')), /at least 32 characters/);
  await assert.rejects(loadMetricsToken(tokenFile(`${TOKEN} ${TOKEN}`)), /without spaces/);
  assert.equal((await loadMetricsToken(tokenFile(`${TOKEN}\n`))).length, 32);
});

test('/metrics answers only the bearer of the token', async (t) => {
  const app = Fastify();
  t.after(() => app.close());
  const tokenDigest = await loadMetricsToken(tokenFile(`${TOKEN}\n`));
  registerMetricsRoute(app, { metrics: createMetrics(), tunnels: new TunnelRegistry(), tokenDigest });
  for (const authorization of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`]) {
    const res = await app.inject({
      url: '/metrics',
      headers: authorization === undefined ? {} : { authorization },
    });
    assert.equal(res.statusCode, 401, String(authorization));
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.doesNotMatch(res.body, /ztka_/);
  }
  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /^ztka_connected_agents 0$/m);
});
