import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGENT_SETTINGS, AgentConfigError, agentUsage, loadAgentConfig } from './config.js';

const REQUIRED = ['--controller-url', 'https://ztka.example.com', '--ca-file', 'ca.crt'];

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const command = loadAgentConfig(argv, env);
  assert.equal(command.kind, 'run');
  return command.kind === 'run' ? command.config : assert.fail();
};

test('--help shows every setting of the schema, with its variable', () => {
  const help = agentUsage();
  for (const s of Object.values(AGENT_SETTINGS)) {
    assert.match(help, new RegExp(`--${s.flag}\\b`));
    assert.ok(help.includes(`[${s.env}`), s.env);
  }
  assert.deepEqual(loadAgentConfig(['--help']), { kind: 'help' });
  assert.deepEqual(loadAgentConfig(['--version']), { kind: 'version' });
});

test('every setting is read: flags over variables over defaults', () => {
  assert.deepEqual(run(REQUIRED), {
    controllerUrl: 'https://ztka.example.com',
    caFile: 'ca.crt',
    bootstrapToken: undefined,
    credentialFile: '/var/run/ztka/credential',
    credentialSecret: undefined,
    kubeconfig: undefined,
    jitNamespace: 'ztka-system',
    sweepIntervalMs: 60_000,
    transport: 'h2',
    apiserverHttp1: false,
    logLevel: 'info',
  });
  const env = {
    ZTKA_CONTROLLER_URL: 'https://env.example.com',
    ZTKA_CA_FILE: 'env-ca.crt',
    ZTKA_BOOTSTRAP_TOKEN: 'ztkb_x',
    ZTKA_CREDENTIAL_FILE: '/tmp/credential',
    ZTKA_CREDENTIAL_SECRET: 'ztka-system/ztka-agent',
    KUBECONFIG: '/tmp/kubeconfig',
    ZTKA_JIT_NAMESPACE: 'ztka-jit',
    ZTKA_SWEEP_INTERVAL_MS: '1000',
    ZTKA_TRANSPORT: 'websocket',
    ZTKA_APISERVER_HTTP1: 'true',
    ZTKA_LOG_LEVEL: 'warn',
  };
  assert.deepEqual(run([], env), {
    controllerUrl: 'https://env.example.com',
    caFile: 'env-ca.crt',
    bootstrapToken: 'ztkb_x',
    credentialFile: '/tmp/credential',
    credentialSecret: { namespace: 'ztka-system', name: 'ztka-agent' },
    kubeconfig: '/tmp/kubeconfig',
    jitNamespace: 'ztka-jit',
    sweepIntervalMs: 1000,
    transport: 'websocket',
    apiserverHttp1: true,
    logLevel: 'warn',
  });
  const flagged = run(
    [...REQUIRED, '--transport', 'h2', '--sweep-interval-ms', '250', '--apiserver-http1'],
    env,
  );
  assert.equal(flagged.controllerUrl, 'https://ztka.example.com');
  assert.equal(flagged.transport, 'h2');
  assert.equal(flagged.sweepIntervalMs, 250);
  assert.equal(flagged.apiserverHttp1, true);
});

test('an empty variable is unset, as a template leaves it', () => {
  assert.equal(run(REQUIRED, { ZTKA_TRANSPORT: '', ZTKA_APISERVER_HTTP1: '' }).transport, 'h2');
});

test('every problem is reported at once, by flag', () => {
  assert.throws(
    () =>
      loadAgentConfig([
        '--sweep-interval-ms',
        '5',
        '--transport',
        'carrier-pigeon',
        '--jit-namespace',
        'Not_A_Label',
        '--credential-secret',
        'no-slash',
      ]),
    (err: unknown) => {
      assert.ok(err instanceof AgentConfigError);
      for (const flag of [
        'controller-url',
        'ca-file',
        'sweep-interval-ms',
        'transport',
        'jit-namespace',
        'credential-secret',
      ])
        assert.match(err.message, new RegExp(`--${flag} `));
      return true;
    },
  );
});
