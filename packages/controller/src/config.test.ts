import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, SETTINGS, loadConfig, usage, type Config } from './config.js';

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

/** A valid value other than the default for every setting: a setting added without one fails below. */
const SAMPLES: { [K in keyof Config]-?: Config[K] } = {
  dataDir: '/srv/ztka',
  listen: '127.0.0.1:9001',
  publicUrl: 'https://ztka.example',
  tlsCertFile: '/etc/ztka/tls.crt',
  tlsKeyFile: '/etc/ztka/tls.key',
  tlsCaFile: '/etc/ztka/ca.crt',
  logLevel: 'debug',
  bootstrapTokenTtlSeconds: 3600,
  agentPingIntervalMs: 1000,
  agentPingTimeoutMs: 2000,
  kubectlPath: '/opt/kubectl',
  shellBwrapPath: '/opt/bwrap',
  shellWorkRoot: '/var/tmp/shells',
  shellUidBase: 3_000_000,
  shellMaxPerUser: 2,
  shellMaxTotal: 20,
  shellMemoryMb: 256,
  shellTasks: 128,
  shellCpuPercent: 50,
  shellCpuSeconds: 60,
  shellFileMb: 10,
  shellCommandTimeoutSeconds: 60,
  webRoot: '/srv/web',
  database: 'postgres://ztka@db.internal/ztka',
  auditRetentionDays: 30,
  auditKeyFile: '/etc/ztka/audit.key',
  secretsKeyFile: '/etc/ztka/secrets.key',
  auditCheckpointFile: '/var/log/ztka/checkpoints.jsonl',
  auditCheckpointIntervalSeconds: 60,
  auditWebhookUrl: 'https://hooks.example/ztka',
  kubeTokenTtlSeconds: 300,
  metricsTokenFile: '/etc/ztka/metrics-token',
  shutdownGraceSeconds: 30,
  shutdownDelaySeconds: 5,
  proxyProtocolFrom: '10.0.0.0/8',
  rateLimitPerPerson: 50,
  rateLimitPerAddress: 5,
  ssoRefreshSeconds: 60,
  peerListen: '0.0.0.0:9444',
  peerUrl: 'https://replica-1.example:9444',
  agentImage: 'registry.example/ztka-agent:1',
};

test('--help is generated from the schema: every setting, its flag, variable, default and description', () => {
  const help = usage();
  assert.equal(help.match(/^ {2}--[a-z-]+ VALUE$/gm)?.length, SETTINGS.length);
  for (const s of SETTINGS) {
    assert.ok(s.description.length > 0, `${s.key} has a description`);
    const fallback = s.default === undefined ? '' : ` (default ${String(s.default)})`;
    assert.ok(help.includes(`  --${s.flag} VALUE\n      ${s.description}${fallback}  [${s.env}]`), s.key);
  }
});

test('every setting is taken from its flag, its variable and the config file', () => {
  assert.deepEqual(Object.keys(SAMPLES).sort(), SETTINGS.map((s) => s.key).sort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-config-'));
  const file = path.join(dir, 'ztka.json');
  fs.writeFileSync(file, JSON.stringify(SAMPLES));
  const flags = SETTINGS.flatMap((s) => [`--${s.flag}`, String(SAMPLES[s.key])]);
  const env = Object.fromEntries(SETTINGS.map((s) => [s.env, String(SAMPLES[s.key])]));
  for (const config of [loadConfig(flags, {}), loadConfig([], env), loadConfig(['--config', file], {})]) {
    for (const s of SETTINGS) {
      assert.notDeepEqual(SAMPLES[s.key], s.default, `${s.key}: a sample other than the default`);
      assert.deepEqual(config[s.key], SAMPLES[s.key], s.key);
    }
  }
  fs.rmSync(dir, { recursive: true });
});

test('every setting reaches the server', () => {
  // What server.ts does with each is tested where it lands; here, that none is parsed and then dropped.
  const server = fs.readFileSync(new URL('../src/server.ts', import.meta.url), 'utf8');
  for (const s of SETTINGS) assert.match(server, new RegExp(`\\bconfig\\.${s.key}\\b`), s.key);
});

test("the controller chart names only the controller's own variables", () => {
  const known = new Set(['ZTKA_CONFIG', 'ZTKA_ADMIN_PASSWORD', ...SETTINGS.map((s) => s.env)]);
  const chart = new URL('../../../deploy/helm/ztka-controller/', import.meta.url);
  const files = fs.readdirSync(chart, { recursive: true, encoding: 'utf8' });
  const named = files
    .filter((f) => /\.(ya?ml|md|tpl|txt)$/.test(f))
    .flatMap((f) => fs.readFileSync(new URL(f, chart), 'utf8').match(/ZTKA_[A-Z0-9_]+/g) ?? []);
  assert.ok(named.length > 10);
  for (const name of named) assert.ok(known.has(name), `${name} is not a controller setting`);
});
