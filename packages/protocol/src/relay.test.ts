import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { test } from 'node:test';
import { relay } from './relay.js';

/** A destination that holds every write until `release()` is called. */
function heldWritable(): { dest: Writable; got: Buffer[]; release(): void } {
  const got: Buffer[] = [];
  const held: Array<() => void> = [];
  const dest = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, done) {
      got.push(chunk);
      held.push(done);
    },
  });
  return { dest, got, release: () => held.splice(0).forEach((done) => done()) };
}

test('relay moves every byte in order and ends the destination', async () => {
  const from = Readable.from([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
  const to = new PassThrough();
  relay(from, to);
  const chunks: Buffer[] = [];
  for await (const c of to) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'abc');
});

test('relay with end: false leaves the destination open', async () => {
  const from = Readable.from([Buffer.from('x')]);
  const to = new PassThrough();
  relay(from, to, { end: false });
  await new Promise((r) => from.on('end', r));
  assert.equal(to.writableEnded, false);
});

test('the source pauses only past the limit, and resumes when the destination drains', async () => {
  const settle = () => new Promise((r) => setImmediate(r));
  const from = new PassThrough();
  const { dest, got, release } = heldWritable();
  relay(from, dest, { limit: 100 });
  from.write(Buffer.alloc(60));
  from.write(Buffer.alloc(30));
  await settle();
  // 90 bytes wait, far past the 16-byte high-water mark that would have paused pipe(), not past 100.
  assert.equal(from.isPaused(), false);
  from.write(Buffer.alloc(60));
  await settle();
  assert.equal(from.isPaused(), true);
  // Each release completes the write in flight and starts the next; once all are through, it drains.
  for (let i = 0; i < 5 && from.isPaused(); i++) {
    release();
    await settle();
  }
  assert.equal(from.isPaused(), false);
  assert.equal(
    got.reduce((n, c) => n + c.length, 0),
    150,
  );
});

test('a closed destination stops the relay and holds the source', async () => {
  const from = new PassThrough();
  const to = new PassThrough();
  relay(from, to);
  to.destroy();
  await new Promise((r) => to.on('close', r));
  from.write('after');
  assert.equal(from.isPaused(), true);
  assert.equal(from.listenerCount('data'), 0);
});

test(
  'a source paused before the relay began flows, and an empty one ends the destination',
  { timeout: 5000 },
  async () => {
    const from = new PassThrough();
    from.pause();
    from.end();
    const to = new PassThrough();
    relay(from, to);
    to.resume();
    await new Promise((r) => to.on('finish', r));
    assert.equal(to.writableEnded, true);
  },
);
