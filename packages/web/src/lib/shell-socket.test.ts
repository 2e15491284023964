import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_FRAME_BYTES, encodeShellFrame } from '@ztka/protocol/shell-frames';
import { inputChunks, plainText, shellUrl } from './shell-socket.js';

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
  assert.ok(chunks.every((c) => encodeShellFrame({ type: 'input', data: c }).length < MAX_FRAME_BYTES));
  assert.ok(chunks[0]?.endsWith('x'));
  assert.ok(chunks[1]?.startsWith('😀'));
});
