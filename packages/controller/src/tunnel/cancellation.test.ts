import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { CANCEL_GRACE_MS } from '@ztka/protocol';
import { InBandCancels, RESET_BUDGET } from './cancellation.js';

const { NGHTTP2_CANCEL } = http2.constants;

/** A server that answers headers and then holds each stream open, and counts the resets it receives. */
async function rig() {
  const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  const streams = new Map<number, http2.ServerHttp2Stream>();
  let resetsReceived = 0;
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    streams.set(stream.id as number, stream);
    stream.on('close', () => {
      if (stream.rstCode === NGHTTP2_CANCEL && !resetByServer.has(stream.id as number)) resetsReceived++;
    });
    stream.respond({ ':status': 200 });
    stream.write('x');
  });
  const resetByServer = new Set<number>();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const open = async () => {
    const stream = client.request({ ':path': '/' }, { endStream: false });
    stream.on('error', () => undefined);
    await new Promise((resolve) => stream.once('response', resolve));
    return stream;
  };
  /** What the other side does with a cancel message: reset each named stream itself. */
  const obey = (ids: number[]) => {
    for (const id of ids) {
      resetByServer.add(id);
      streams.get(id)?.close(NGHTTP2_CANCEL);
    }
  };
  return {
    open,
    obey,
    resets: () => resetsReceived,
    close: () => {
      client.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const closed = (s: http2.ClientHttp2Stream) =>
  new Promise((resolve) => (s.closed ? resolve(undefined) : s.once('close', resolve)));

test('streams cancelled in one turn are named in one message, and the other side resets them', async () => {
  const r = await rig();
  try {
    const messages: number[][] = [];
    const cancels = new InBandCancels(async (ids) => {
      messages.push(ids);
      r.obey(ids);
      return 200;
    });
    const streams = await Promise.all([r.open(), r.open(), r.open()]);
    for (const s of streams) cancels.cancel(s);
    await Promise.all(streams.map(closed));
    assert.deepEqual(messages, [streams.map((s) => s.id)]);
    assert.equal(r.resets(), 0, 'no reset reached the server');
    assert.ok(streams.every((s) => s.rstCode === NGHTTP2_CANCEL));
  } finally {
    await r.close();
  }
});

test('a side that refuses the message, or ignores it past the grace, gets a reset after all', async () => {
  const r = await rig();
  try {
    const refusing = new InBandCancels(async () => 404);
    const a = await r.open();
    refusing.cancel(a);
    await closed(a);
    const ignoring = new InBandCancels(async () => 200, 50);
    const b = await r.open();
    const started = Date.now();
    ignoring.cancel(b);
    await closed(b);
    assert.ok(Date.now() - started >= 45, 'reset only once the grace has passed');
    for (let i = 0; i < 50 && r.resets() < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(r.resets(), 2);
  } finally {
    await r.close();
  }
});

test('resets this side sends itself are paced under the limit that would end the session', async () => {
  const r = await rig();
  try {
    let told = 0;
    const refusing = new InBandCancels(
      async () => 404,
      CANCEL_GRACE_MS,
      () => told++,
    );
    const streams = await Promise.all(Array.from({ length: RESET_BUDGET.burst + 40 }, () => r.open()));
    for (const s of streams) refusing.cancel(s);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const early = streams.filter((s) => s.closed).length;
    assert.ok(early >= RESET_BUDGET.burst && early < streams.length, `${early} reset at once`);
    await Promise.all(streams.map(closed));
    assert.equal(told, 1, 'an agent that cannot cancel in-band is reported once');
  } finally {
    await r.close();
  }
});
