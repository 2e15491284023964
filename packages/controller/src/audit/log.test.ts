import assert from 'node:assert/strict';
import { test } from 'node:test';
import { insertChunks } from './log.js';

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
