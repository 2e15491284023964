import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, usage } from './config.js';

test('defaults, then file, then environment, then flags', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-config-'));
  const file = path.join(dir, 'ztka.yaml');
  fs.writeFileSync(file, 'listen: 127.0.0.1:9000\nlogLevel: debug\ndataDir: /var/lib/ztka\n');
  const config = loadConfig(['--config', file, '--log-level', 'warn'], { ZTKA_LISTEN: '127.0.0.1:9443' });
  assert.equal(config.listen, '127.0.0.1:9443');
  assert.equal(config.logLevel, 'warn');
  assert.equal(config.dataDir, '/var/lib/ztka');
  assert.equal(config.publicUrl, 'https://127.0.0.1:9443');
  assert.equal(config.bootstrapTokenTtlSeconds, 86400);
  fs.rmSync(dir, { recursive: true });
});

test('every invalid setting is reported at once, by name', () => {
  assert.throws(
    () => loadConfig(['--listen', 'nowhere', '--public-url', 'http://plain', '--log-level', 'loud'], {}),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /listen/);
      assert.match(err.message, /publicUrl/);
      assert.match(err.message, /logLevel/);
      return true;
    },
  );
});

test('unknown flags, unknown file keys and a lone certificate are refused', () => {
  assert.throws(() => loadConfig(['--lisen', '1'], {}), /Unknown option '--lisen'/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-config-'));
  const file = path.join(dir, 'c.json');
  fs.writeFileSync(file, '{"listn": "x"}');
  assert.throws(
    () => loadConfig(['--config', file], {}),
    /must NOT have additional properties|Unexpected property/,
  );
  fs.writeFileSync(file, '[1, 2]');
  assert.throws(() => loadConfig(['--config', file], {}), /must hold a mapping/);
  assert.throws(
    () => loadConfig(['--tls-cert-file', '/x.crt'], {}),
    /tlsCertFile and tlsKeyFile must be given together/,
  );
  fs.rmSync(dir, { recursive: true });
});

test('/metrics is off until given a token file', () => {
  assert.equal(loadConfig([], {}).metricsTokenFile, undefined);
  assert.equal(
    loadConfig(['--metrics-token-file', '/etc/ztka/metrics-token'], {}).metricsTokenFile,
    '/etc/ztka/metrics-token',
  );
  assert.match(usage(), /--metrics-token-file VALUE\n.*not served.*\[ZTKA_METRICS_TOKEN_FILE\]/);
});

test('a dead tunnel is noticed within seconds by default', () => {
  const config = loadConfig([], {});
  // A silent agent is found out within one interval and one timeout: well inside 10 s.
  assert.ok(config.agentPingIntervalMs + config.agentPingTimeoutMs <= 6000);
  assert.equal(loadConfig([], { ZTKA_AGENT_PING_TIMEOUT_MS: '5000' }).agentPingTimeoutMs, 5000);
  assert.match(usage(), /--agent-ping-timeout-ms VALUE\n.*\(default 3000\)/);
});

test('the PROXY protocol is off until given the load balancers; a wrong entry stops the start', () => {
  assert.equal(loadConfig([], {}).proxyProtocolFrom, undefined);
  const config = loadConfig([], { ZTKA_PROXY_PROTOCOL_FROM: '10.0.0.0/8, 2001:db8::5' });
  assert.equal(config.proxyProtocolFrom, '10.0.0.0/8, 2001:db8::5');
  assert.throws(
    () => loadConfig(['--proxy-protocol-from', '10.0.0.0/8,lb.example'], {}),
    (err: Error) =>
      err instanceof ConfigError && /proxyProtocolFrom: "lb.example" is not an IP/.test(err.message),
  );
  assert.match(usage(), /--proxy-protocol-from VALUE\n.*PROXY protocol header.*\[ZTKA_PROXY_PROTOCOL_FROM\]/);
  assert.equal(loadConfig([], {}).shutdownDelaySeconds, 0);
  assert.match(usage(), /--shutdown-delay-seconds VALUE\n.*\/readyz answers 503.*\(default 0\)/);
});
