import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withLock } from './lock.js';

test('withLock runs one holder at a time', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-lock-'));
  const lock = path.join(dir, 'lock');
  const events: string[] = [];
  const holder = (name: string) =>
    withLock(lock, async () => {
      events.push(`${name} in`);
      await sleep(50);
      events.push(`${name} out`);
    });
  await Promise.all([holder('a'), holder('b')]);
  assert.deepEqual(events.length, 4);
  assert.equal(events[0]?.endsWith(' in'), true);
  assert.equal(events[1], events[0]?.replace(' in', ' out'), `overlapping holders: ${events.join(', ')}`);
  await fs.rm(dir, { recursive: true, force: true });
});

test('withLock takes over a lock whose owner has died', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-lock-'));
  const lock = path.join(dir, 'lock');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  await fs.mkdir(lock);
  await fs.writeFile(path.join(lock, 'pid'), dead.stdout);
  const result = await withLock(lock, async () => 'ran', 5_000);
  assert.equal(result, 'ran');
  await assert.rejects(fs.stat(lock), { code: 'ENOENT' });
  await fs.rm(dir, { recursive: true, force: true });
});
