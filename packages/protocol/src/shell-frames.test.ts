import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeClientFrame, decodeServerFrame, encodeShellFrame } from './shell-frames.js';

test('client frames round-trip', () => {
  assert.deepEqual(JSON.parse(encodeShellFrame({ type: 'input', data: 'k\r' })), {
    type: 'input',
    data: 'k\r',
  });
  assert.deepEqual(decodeClientFrame(encodeShellFrame({ type: 'resize', cols: 120, rows: 40 })), {
    ok: true,
    frame: { type: 'resize', cols: 120, rows: 40 },
  });
});

test('client frames that are not JSON objects are errors', () => {
  for (const text of ['kubectl get ns', '', 'null', '[]', '"input"']) {
    assert.equal(decodeClientFrame(text).ok, false, text);
  }
});

test('server frames; anything else is ignored', () => {
  assert.deepEqual(decodeServerFrame('{"type":"output","data":"hi\\r\\n"}'), {
    type: 'output',
    data: 'hi\r\n',
  });
  assert.deepEqual(decodeServerFrame('{"type":"exit","reason":"bye"}'), { type: 'exit', reason: 'bye' });
  assert.deepEqual(decodeServerFrame('{"type":"exit"}'), { type: 'exit', reason: '' });
  assert.equal(decodeServerFrame('{"type":"output"}'), undefined);
  assert.equal(decodeServerFrame('not json'), undefined);
  assert.equal(decodeServerFrame('null'), undefined);
  assert.equal(decodeServerFrame(new ArrayBuffer(2)), undefined);
});
