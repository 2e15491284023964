import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AuditSigner } from './signer.js';

test('the audit key is created once, owner-only, and read back as the same key; a bad file stops the start', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-audit-key-'));
  try {
    const file = path.join(dir, 'keys', 'audit-signing.key');
    const created = await AuditSigner.loadOrCreate(file);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(path.dirname(file))).mode & 0o777, 0o700);
    const again = await AuditSigner.loadOrCreate(file);
    assert.equal(again.keyId, created.keyId);
    const c = created.sign({ type: 'head', org: 'o', seq: 3, hash: 'a'.repeat(64), at: 1 });
    assert.equal(again.verify(c), true);
    for (const changed of [
      { seq: 4 },
      { org: 'p' },
      { at: 2 },
      { type: 'prune' as const },
      { hash: 'b'.repeat(64) },
    ])
      assert.equal(again.verify({ ...c, ...changed }), false, JSON.stringify(changed));
    assert.equal(AuditSigner.generate().verify(c), false);
    assert.deepEqual(
      await fs.readdir(path.dirname(file)),
      ['audit-signing.key'],
      'no temporary file is left',
    );

    const bad = path.join(dir, 'bad.key');
    await fs.writeFile(bad, 'not a key\n');
    await assert.rejects(AuditSigner.loadOrCreate(bad), /holds no private key/);
    assert.equal(await fs.readFile(bad, 'utf8'), 'not a key\n', 'a bad key file is never replaced');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
