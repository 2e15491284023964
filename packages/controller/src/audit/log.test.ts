import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqlite } from '../store/db.js';
import { migrateToLatest } from '../store/migrations.js';
import { compileInsert, insertChunks } from './log.js';

test('a batch is cut into the few INSERT sizes, largest first, covering every row', () => {
  assert.deepEqual(insertChunks(0), []);
  assert.deepEqual(insertChunks(1), [1]);
  assert.deepEqual(insertChunks(37), [16, 16, 4, 1]);
  assert.deepEqual(insertChunks(5000), [1024, 1024, 1024, 1024, 256, 256, 256, 64, 64, 4, 4]);
  for (let n = 0; n < 3000; n++) {
    const chunks = insertChunks(n);
    assert.equal(
      chunks.reduce((a, b) => a + b, 0),
      n,
    );
    assert.ok(chunks.every((c, i) => i === 0 || c <= (chunks[i - 1] ?? 0)));
  }
});

test('a compiled INSERT has one parameter for every column of every row, and nothing else', async () => {
  const db = openSqlite(':memory:');
  try {
    await migrateToLatest(db);
    const columns = (await db.introspection.getTables()).find((t) => t.name === 'audit_records')?.columns;
    assert.ok(columns && columns.length > 0);
    for (const size of [1, 4]) {
      const { sql, slots } = compileInsert(db, size);
      assert.match(sql, /^insert into "audit_records"/);
      assert.equal(slots.length, size * columns.length);
      const seen = new Set(slots.map(([row, column]) => `${row}/${column}`));
      assert.equal(seen.size, slots.length);
      for (let row = 0; row < size; row++)
        for (const c of columns) assert.ok(seen.has(`${row}/${c.name}`), `${row}/${c.name}`);
    }
  } finally {
    await db.destroy();
  }
});
