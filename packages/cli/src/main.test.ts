import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PRODUCT_VERSION } from '@ztka/protocol';

const run = promisify(execFile);
const main = fileURLToPath(new URL('./main.js', import.meta.url));

test('ztka version prints the release version', async () => {
  const { stdout } = await run(process.execPath, [main, 'version']);
  assert.equal(stdout.trim(), `ztka ${PRODUCT_VERSION}`);
});

test('an unknown command fails with exit code 2 and names the command', async () => {
  await assert.rejects(
    run(process.execPath, [main, 'frobnicate']),
    (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr ?? '', /unknown command "frobnicate"/);
      return true;
    },
  );
});

test('ztka help and bare ztka print the usage with every command group on stdout', async () => {
  for (const args of [['help'], [], ['--help']]) {
    const { stdout, stderr } = await run(process.execPath, [main, ...args]);
    assert.equal(stderr, '');
    assert.match(stdout, /^Usage: ztka /);
    for (const group of [
      'login',
      'clusters',
      'kubeconfig',
      'token',
      'settings',
      'roles',
      'api-keys',
      'audit',
    ]) {
      assert.match(stdout, new RegExp(`\\n  ${group}\\b`), `${args.join(' ')} lists ${group}`);
    }
  }
  const { stdout } = await run(process.execPath, [main, 'help', 'clusters', 'list']);
  assert.match(stdout, /^Usage: ztka clusters list \[options\]/);
  assert.match(stdout, /-o, --output <format>/);
});
