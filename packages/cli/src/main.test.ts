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
