import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  inputChunks,
  inputMessage,
  parseServerMessage,
  plainText,
  resizeMessage,
  shellUrl,
} from './shell-socket.js';

test('client frames', () => {
  assert.deepEqual(JSON.parse(inputMessage('k\r')), { type: 'input', data: 'k\r' });
  assert.deepEqual(JSON.parse(resizeMessage(120, 40)), { type: 'resize', cols: 120, rows: 40 });
});

test('server frames; anything else is ignored', () => {
  assert.deepEqual(parseServerMessage('{"type":"output","data":"hi\\r\\n"}'), {
    type: 'output',
    data: 'hi\r\n',
  });
  assert.deepEqual(parseServerMessage('{"type":"exit","reason":"bye"}'), { type: 'exit', reason: 'bye' });
  assert.deepEqual(parseServerMessage('{"type":"exit"}'), { type: 'exit', reason: '' });
  assert.equal(parseServerMessage('{"type":"output"}'), undefined);
  assert.equal(parseServerMessage('not json'), undefined);
  assert.equal(parseServerMessage(new ArrayBuffer(2)), undefined);
});

test('the socket URL is same-origin, wss on https', () => {
  assert.equal(
    shellUrl({ protocol: 'https:', host: 'ztka.example:8443' }, 'my cluster'),
    'wss://ztka.example:8443/v1/shell?cluster=my%20cluster',
  );
  assert.equal(
    shellUrl({ protocol: 'http:', host: 'localhost:5173' }, 'c'),
    'ws://localhost:5173/v1/shell?cluster=c',
  );
});

test('a reason is written without control characters', () => {
  assert.equal(plainText('\x1b[31mred\x07 text'), '[31mred text');
});

test('a large paste is split into frames under the server limit, keeping surrogate pairs whole', () => {
  assert.deepEqual(inputChunks('abc'), ['abc']);
  const paste = 'x'.repeat(7999) + '😀' + 'y'.repeat(20_000);
  const chunks = inputChunks(paste);
  assert.equal(chunks.join(''), paste);
  assert.ok(chunks.every((c) => inputMessage(c).length < 64 * 1024));
  assert.ok(chunks[0]?.endsWith('x'));
  assert.ok(chunks[1]?.startsWith('😀'));
});
