// The audit trail against someone who can write the controller's database but not its audit key: the real
// controller signs checkpoints, the real CLI keeps one, and after the SQLite file is edited with the
// controller stopped (one record changed, every later hash recomputed), `ztka audit verify` fails, with the
// kept checkpoint and with the controller's own checkpoint file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Ztka, ZtkaCli } from '@ztka/testenv';
import { openSqlite } from '@ztka/controller/store/db';
import { linkHash } from '@ztka/controller/audit/chain';
import { canonicalJson } from '@ztka/controller/audit/record';

let z: Ztka;
let cli: ZtkaCli;

before(async () => {
  z = await Ztka.start();
  cli = await ZtkaCli.create();
  await cli.ok(
    ['login', '--server', z.url, '--ca-file', z.caFile, '--username', 'admin', '--password-stdin'],
    {
      input: `${z.adminPassword}\n`,
    },
  );
});
after(async () => {
  await cli?.remove();
  await z?.stop();
});

test('a record edited in the SQLite file, with every later hash recomputed, fails verify against a checkpoint', async () => {
  const controllerDir = path.join(z.dir, 'controller');
  await z.createUser('mallory@example.com');
  await z.createUser('trudy@example.com');

  // The key is a file of its own, owner-only, and the database never holds it.
  const keyFile = path.join(controllerDir, 'keys', 'audit-signing.key');
  assert.equal((await fs.stat(keyFile)).mode & 0o777, 0o600);
  const keyBody = (await fs.readFile(keyFile, 'utf8')).split('\n')[1] ?? '';
  assert.ok(keyBody.length > 20);

  const kept = path.join(cli.home, 'kept-checkpoint.jsonl');
  await fs.writeFile(kept, await cli.ok(['audit', 'checkpoint']));
  const checkpoint = JSON.parse(await fs.readFile(kept, 'utf8')) as { type: string; seq: number };
  assert.equal(checkpoint.type, 'head');
  assert.match(
    await cli.ok(['audit', 'verify', '--checkpoint', kept]),
    /verified: \d+ records, up to and past/,
  );
  assert.match(await cli.ok(['audit', 'verify']), /signed checkpoint/);

  await z.stopController();
  const dbFile = path.join(controllerDir, 'ztka.db');
  for (const f of [dbFile, `${dbFile}-wal`]) {
    const bytes = await fs.readFile(f).catch(() => Buffer.alloc(0));
    assert.ok(!bytes.includes(keyBody), `${f} holds the audit key`);
  }
  const db = openSqlite(dbFile);
  try {
    // Hide that mallory was ever created: rename the record, then rebuild the chain from there on.
    const target = await db
      .selectFrom('audit_records')
      .selectAll()
      .where('kind', '=', 'system')
      .where('summary', 'like', '%mallory%')
      .orderBy('seq')
      .executeTakeFirstOrThrow();
    const body = canonicalJson(JSON.parse(target.body.replaceAll('mallory', 'alice')));
    await db
      .updateTable('audit_records')
      .set({ body, summary: target.summary.replaceAll('mallory', 'alice') })
      .where('org_id', '=', target.org_id)
      .where('seq', '=', target.seq)
      .execute();
    const rows = await db
      .selectFrom('audit_records')
      .select(['seq', 'body'])
      .where('org_id', '=', target.org_id)
      .where('seq', '>=', target.seq)
      .orderBy('seq')
      .execute();
    let prev = target.prev_hash;
    for (const r of rows) {
      const hash = linkHash(prev, Number(r.seq), r.body);
      await db
        .updateTable('audit_records')
        .set({ prev_hash: prev, hash })
        .where('org_id', '=', target.org_id)
        .where('seq', '=', r.seq)
        .execute();
      prev = hash;
    }
    assert.ok(Number(target.seq) <= checkpoint.seq);
  } finally {
    await db.destroy();
  }
  await z.restartController();

  const withKept = await cli.run(['audit', 'verify', '--checkpoint', kept]);
  assert.equal(withKept.code, 1, withKept.stdout);
  assert.match(
    withKept.stderr,
    /^ztka: audit trail broken at record \d+.*not the one the checkpoint .* signed/,
  );
  const serverSide = await cli.run(['audit', 'verify']);
  assert.equal(serverSide.code, 1, serverSide.stdout);
  assert.match(serverSide.stderr, /audit trail broken/);
  // And the controller signs no checkpoint for the rewritten chain.
  const refused = await cli.run(['audit', 'checkpoint']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /does not verify against its last checkpoint/);
});
