// `npm run testenv -- up|down|status` behaviour, on an environment of this test's own (ZTKA_TESTENV_DIR),
// so the shared one other tests use is left alone.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { down, status, up, type EnvState } from '@ztka/testenv';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-testenv-'));
process.env['ZTKA_TESTENV_DIR'] = dir;
after(async () => {
  await down();
  await fs.rm(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** GET as the admin, with an Audit-ID of our choosing. */
async function getWithAuditId(state: EnvState, uri: string, auditId: string): Promise<number> {
  const read = (f: string) => fs.readFile(path.join(state.pkiDir, f));
  const [ca, cert, key] = await Promise.all([read('ca.crt'), read('admin.crt'), read('admin.key')]);
  return new Promise((resolve, reject) => {
    https
      .get(`${state.apiserverUrl}${uri}`, { ca, cert, key, headers: { 'Audit-ID': auditId } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

test('up, status, down and up again: exact processes stopped, no rebuild, the apiserver audit log written', async () => {
  const first = await up();
  const s = await status();
  assert.equal(s.apiserverReady, true);
  assert.deepEqual(
    s.components.map((c) => [c.name, c.running]),
    ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].map((n) => [n, true]),
  );

  // The cluster's own audit log records the Audit-ID a caller sends: ztka relies on this to join the two.
  const auditId = randomUUID();
  assert.equal(await getWithAuditId(first, '/api/v1/namespaces/kube-system', auditId), 200);
  let logged = '';
  for (let i = 0; i < 50 && !logged.includes(auditId); i++) {
    logged = await fs.readFile(first.auditLog, 'utf8');
    if (!logged.includes(auditId)) await sleep(100);
  }
  const event = logged
    .split('\n')
    .filter((l) => l.includes(auditId))
    .map((l) => JSON.parse(l) as { auditID: string; requestURI: string; verb: string; stage: string })
    .find((e) => e.stage === 'ResponseComplete');
  assert.deepEqual(event && { auditID: event.auditID, requestURI: event.requestURI, verb: event.verb }, {
    auditID: auditId,
    requestURI: '/api/v1/namespaces/kube-system',
    verb: 'get',
  });

  const apiserverBinary = path.join(first.binDir, 'kube-apiserver');
  const builtAt = (await fs.stat(apiserverBinary)).mtimeMs;
  const { stopped } = await down();
  assert.deepEqual(stopped, ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']);
  for (const c of first.components) assert.equal(alive(c.pid), false, `${c.name} (pid ${c.pid}) still runs`);
  await assert.rejects(fs.stat(dir), { code: 'ENOENT' });
  assert.equal((await status()).state, undefined);

  const started = Date.now();
  const second = await up();
  const seconds = (Date.now() - started) / 1000;
  assert.equal(second.binDir, first.binDir);
  assert.equal((await fs.stat(apiserverBinary)).mtimeMs, builtAt, 'the second up rebuilt kube-apiserver');
  assert.equal((await status()).apiserverReady, true);
  console.log(`# second up ready in ${seconds.toFixed(1)}s`);
});
