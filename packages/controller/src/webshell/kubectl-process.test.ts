import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { spawnKubectl } from './kubectl-process.js';

test('input a process does not read is seen as pending, and an interrupt still ends it', async () => {
  // `sleep` never reads its terminal: what is written piles up in front of it.
  const child = spawnKubectl({
    file: '/bin/sleep',
    args: ['30'],
    env: {},
    cwd: os.tmpdir(),
    cols: 80,
    rows: 24,
  });
  const exited = new Promise<number>((resolve) => child.onExit(resolve));
  child.onData(() => undefined);
  assert.equal(child.pendingInput(), 0);
  const chunk = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 64; i++) child.write(chunk);
  // The kernel takes a few kilobytes; the rest waits in the controller, and is counted.
  const deadline = Date.now() + 5000;
  while (child.pendingInput() < 3 << 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(child.pendingInput() >= 3 << 20, `${child.pendingInput()} bytes pending`);
  child.interrupt();
  assert.equal(await exited, 128 + os.constants.signals.SIGINT);
});
