import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import { SecretBox } from '../store/sealed.js';
import { peerCredentials, replicaOf } from './peer.js';

test('replicas on one database share one CA, each with a leaf naming it', async (t) => {
  const db = await freshStore(t);
  const box = SecretBox.generate();
  const a = await peerCredentials(db, box, 'replica-a');
  const b = await peerCredentials(db, box, 'replica-b');
  assert.equal(a.caPem, b.caPem);
  const leaf = new X509Certificate(a.certPem);
  assert.ok(leaf.checkIssued(new X509Certificate(a.caPem)));
  assert.equal(replicaOf({ subjectaltname: leaf.subjectAltName ?? '' }), 'replica-a');
  // Another secrets key cannot open the CA: that replica refuses to start.
  await assert.rejects(peerCredentials(db, SecretBox.generate(), 'replica-c'), /another secrets key/);
});

test('a CA appended to the stored certificate by a database writer is refused, not trusted', async (t) => {
  const db = await freshStore(t);
  const box = SecretBox.generate();
  const honest = await peerCredentials(db, box, 'replica-a');
  // The attacker's own CA (any self-signed certificate will do), appended as a bundle, and alone.
  const other = await peerCredentials(await freshStore(t), SecretBox.generate(), 'evil');
  for (const forged of [`${honest.caPem}${other.caPem}`, other.caPem]) {
    await db.updateTable('peer_authority').set({ cert_pem: forged }).execute();
    await assert.rejects(peerCredentials(db, box, 'replica-b'), /altered/);
  }
});

async function freshStore(t: { after: (fn: () => unknown) => void }) {
  const db = openSqlite(':memory:');
  t.after(() => db.destroy());
  await migrateToLatest(db);
  return db;
}
