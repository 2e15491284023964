import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_FRAME_BYTES, parseClientFrame } from './frames.js';

const text = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

test('valid frames are read', () => {
  assert.deepEqual(parseClientFrame(text({ type: 'input', data: 'kubectl\r' }), false), {
    ok: true,
    frame: { type: 'input', data: 'kubectl\r' },
  });
  assert.deepEqual(parseClientFrame(text({ type: 'resize', cols: 1000, rows: 1, extra: true }), false), {
    ok: true,
    frame: { type: 'resize', cols: 1000, rows: 1 },
  });
  // ws may hand over an ArrayBuffer or fragments.
  const buf = text({ type: 'input', data: '' });
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  assert.equal(parseClientFrame(ab, false).ok, true);
  assert.equal(parseClientFrame([buf.subarray(0, 5), buf.subarray(5)], false).ok, true);
  const big = text({ type: 'input', data: 'x'.repeat(MAX_FRAME_BYTES - 40) });
  assert.ok(big.length <= MAX_FRAME_BYTES);
  assert.equal(parseClientFrame(big, false).ok, true);
});

test('malformed frames are errors, never exceptions', () => {
  const bad: Array<[string, Buffer, boolean?]> = [
    ['binary', text({ type: 'input', data: 'x' }), true],
    ['too large', text({ type: 'input', data: 'x'.repeat(MAX_FRAME_BYTES) })],
    ['not JSON', text('kubectl get ns')],
    ['empty', text('')],
    ['null', text('null')],
    ['array', text('[]')],
    ['string', text('"input"')],
    ['no type', text({ data: 'x' })],
    ['unknown type', text({ type: 'exec', data: 'x' })],
    ['input without data', text({ type: 'input' })],
    ['input with a number', text({ type: 'input', data: 5 })],
    ['input with an array', text({ type: 'input', data: ['x'] })],
    ['resize without rows', text({ type: 'resize', cols: 80 })],
    ['resize of 0', text({ type: 'resize', cols: 0, rows: 24 })],
    ['resize over 1000', text({ type: 'resize', cols: 80, rows: 1001 })],
    ['fractional resize', text({ type: 'resize', cols: 80.5, rows: 24 })],
    ['negative resize', text({ type: 'resize', cols: -80, rows: 24 })],
    ['resize with strings', text({ type: 'resize', cols: '80', rows: '24' })],
    ['resize with NaN', text('{"type":"resize","cols":NaN,"rows":24}')],
    ['resize with 1e400', text('{"type":"resize","cols":1e400,"rows":24}')],
    ['prototype games', text('{"__proto__":{"type":"input"},"data":"x"}')],
  ];
  for (const [name, data, binary] of bad) {
    const result = parseClientFrame(data, binary ?? false);
    assert.equal(result.ok, false, name);
    if (!result.ok) assert.equal(typeof result.error, 'string');
  }
});
