import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { UidClaims } from './uid-claims.js';

function claims(dir: string, cleaned: number[] = []) {
  return new UidClaims({ dir, first: 100, count: 3, cleanUp: async (uid) => void cleaned.push(uid) });
}

test('two controllers on one host never hold the same uid', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-uids-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const a = claims(dir);
  const b = claims(dir);
  const got = [await a.claim(), await b.claim(), await a.claim()];
  assert.deepEqual(got, [100, 101, 102]);
  assert.equal(await b.claim(), undefined, 'all taken');
  await a.release(100);
  assert.equal(await b.claim(), 100);
  await a.release(100); // not a's any more: nothing happens
  assert.equal(fs.readFileSync(path.join(dir, '100'), 'utf8'), String(process.pid));
});

test("a dead controller's claims are cleaned up, then taken over", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-uids-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // A pid that is certainly not running: a child that has exited.
  const { spawnSync } = await import('node:child_process');
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout.toString().trim();
  fs.writeFileSync(path.join(dir, '100'), dead);
  fs.writeFileSync(path.join(dir, '101'), dead);
  const cleaned: number[] = [];
  const c = claims(dir, cleaned);
  assert.equal(await c.claim(), 100, 'taken over');
  assert.deepEqual(cleaned, [100]);
  await c.sweep();
  assert.deepEqual(cleaned, [100, 101]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['100']);
});

test('controllers claiming and releasing at once, in separate processes, never share a uid', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-uids-'));
  const held = path.join(dir, 'held');
  fs.mkdirSync(held);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { spawn } = await import('node:child_process');
  // Each process claims and releases 150 times; while it holds a uid it holds `held/<uid>` exclusively, so a
  // uid held twice is an EEXIST. A live controller's claim must never be cleaned up either.
  const worker = `
    import fs from 'node:fs/promises';
    import { UidClaims } from ${JSON.stringify(new URL('./uid-claims.js', import.meta.url).href)};
    const faults = [];
    const claims = new UidClaims({ dir: ${JSON.stringify(dir)}, first: 100, count: 4,
      cleanUp: async (uid) => faults.push('cleaned up live uid ' + uid) });
    for (let i = 0; i < 150; i++) {
      const uid = await claims.claim();
      if (uid === undefined) continue;
      try { await fs.writeFile(${JSON.stringify(held)} + '/' + uid, '', { flag: 'wx' }); }
      catch { faults.push('uid ' + uid + ' held twice'); continue; }
      await new Promise((r) => setImmediate(r));
      await fs.rm(${JSON.stringify(held)} + '/' + uid);
      await claims.release(uid);
    }
    console.log(JSON.stringify(faults));
  `;
  const outputs = await Promise.all(
    Array.from({ length: 4 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', worker]);
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      return new Promise<string>((resolve) => child.on('close', () => resolve(out.trim())));
    }),
  );
  assert.deepEqual(outputs, ['[]', '[]', '[]', '[]']);
});

test('claims made at once by one controller each get a uid of their own, or none', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-uids-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const c = new UidClaims({ dir, first: 100, count: 4, cleanUp: async () => undefined });
  for (let round = 0; round < 20; round++) {
    const got = await Promise.all(Array.from({ length: 6 }, () => c.claim()));
    const uids = got.filter((u): u is number => u !== undefined);
    assert.equal(new Set(uids).size, uids.length, `round ${round}: ${JSON.stringify(got)}`);
    await Promise.all(uids.map((u) => c.release(u)));
  }
});
