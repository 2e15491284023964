// Where the agent keeps its credential and key, and what it does with a credential saved before agents held
// keys: never connect with it; register again when a bootstrap token is at hand, otherwise say how.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateAgentKey } from '@ztka/protocol';
import { fileStore, obtainCredential } from './register.js';

const CREDENTIAL = `ztka_AbCdEfGhIjKl.${'s'.repeat(43)}`;

async function tempFile(t: TestContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-agent-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'state', 'credential');
}

test('the file keeps the credential and its key together, readable by the agent alone', async (t) => {
  const file = await tempFile(t);
  const store = fileStore(file);
  assert.equal(await store.load(), undefined);
  const { privateKeyPem } = generateAgentKey();
  await store.save({ credential: CREDENTIAL, privateKeyPem });
  assert.deepEqual(await store.load(), { credential: CREDENTIAL, privateKeyPem });
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(await fs.readdir(path.dirname(file)), ['credential']);
});

test('a file saved by an agent older than keys holds a credential without one', async (t) => {
  const file = await tempFile(t);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${CREDENTIAL}\n`);
  assert.deepEqual(await fileStore(file).load(), { credential: CREDENTIAL });
});

test('a stored credential with its key is used as it is; one without a key never is', async (t) => {
  const file = await tempFile(t);
  const store = fileStore(file);
  const opts = { controllerUrl: 'https://127.0.0.1:1', ca: '', store, identity: 'uid-1' };
  const { privateKeyPem } = generateAgentKey();
  await store.save({ credential: CREDENTIAL, privateKeyPem });
  const kept = await obtainCredential({ ...opts, bootstrapToken: 'ztkb_unused' });
  assert.equal(kept.credential, CREDENTIAL);
  assert.equal(kept.privateKey.asymmetricKeyType, 'ed25519');

  await fs.writeFile(file, `${CREDENTIAL}\n`);
  await assert.rejects(
    obtainCredential({ ...opts, bootstrapToken: undefined }),
    /has no key \(it was saved by an older agent\).*register the agent again: in its cluster, apply a fresh bootstrap manifest/,
  );
  // With a bootstrap token it registers again (here the controller cannot be reached), and says why.
  const warnings: string[] = [];
  await assert.rejects(
    obtainCredential({ ...opts, bootstrapToken: 'ztkb_x', warn: (m) => warnings.push(m) }),
    /ECONNREFUSED/,
  );
  assert.match(warnings.join(), /has no key; registering again with the bootstrap token/);
});
