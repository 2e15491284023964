import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isOurs, startComponent, stopComponent } from './processes.js';

test('stopComponent stops the process it started and isOurs then reports it gone', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-proc-'));
  const c = startComponent('sleeper', '/bin/sleep', ['60'], path.join(dir, 'sleeper.log'), dir);
  assert.equal(isOurs(c), true);
  await stopComponent(c);
  assert.equal(isOurs(c), false);
  await fs.rm(dir, { recursive: true, force: true });
});

test('isOurs refuses a live pid that runs another binary', () => {
  // This test process is alive, but it is not /bin/sleep: a recycled pid must not be killed.
  assert.equal(isOurs({ name: 'x', pid: process.pid, binary: '/bin/sleep', log: '/dev/null' }), false);
});
