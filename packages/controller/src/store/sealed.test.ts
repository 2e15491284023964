import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SealError, SecretBox } from './sealed.js';

test('a sealed value opens only with its own key and context, and never shows the plaintext', () => {
  const box = SecretBox.generate();
  const sealed = box.seal('client-secret-123', 'oidc-client-secret:p1');
  assert.ok(!sealed.includes('client-secret-123'));
  assert.notEqual(box.seal('client-secret-123', 'oidc-client-secret:p1'), sealed, 'a fresh IV each time');
  assert.equal(box.open(sealed, 'oidc-client-secret:p1'), 'client-secret-123');
  assert.throws(() => box.open(sealed, 'oidc-client-secret:p2'), SealError, 'moved to another row');
  assert.throws(() => SecretBox.generate().open(sealed, 'oidc-client-secret:p1'), /another secrets key/);
  const parts = sealed.split('.');
  const body = Buffer.from(parts[3] ?? '', 'base64url');
  body[0] = (body[0] ?? 0) ^ 1;
  parts[3] = body.toString('base64url');
  assert.throws(() => box.open(parts.join('.'), 'oidc-client-secret:p1'), /did not open/);
  assert.throws(() => box.open('garbage', 'x'), /not a sealed value/);
});

test('loadOrCreate makes the key once (0600) and refuses a file that holds no key', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-sealed-'));
  try {
    const file = path.join(dir, 'keys', 'secrets.key');
    const [a, b] = await Promise.all([SecretBox.loadOrCreate(file), SecretBox.loadOrCreate(file)]);
    assert.equal(a.keyId, b.keyId, 'two starts at once agree on one key');
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.equal((await SecretBox.loadOrCreate(file)).open(a.seal('x', 'c'), 'c'), 'x');
    await fs.writeFile(file, 'not a key\n');
    await assert.rejects(SecretBox.loadOrCreate(file), /does not hold a secrets key/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
