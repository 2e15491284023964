import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { apiCall } from './store-contract.js';
import { WebhookSink } from './webhook.js';

test('records reach the webhook in order as JSON lines, after the receiver recovers', async () => {
  const received: { seq: number; kind: string }[] = [];
  let failures = 2;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (failures-- > 0) return void res.writeHead(503).end();
      for (const line of body.trim().split('\n'))
        received.push(JSON.parse(line) as { seq: number; kind: string });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const sink = new WebhookSink(url, pino({ level: 'silent' }), {
    baseDelayMs: 20,
    maxDelayMs: 50,
    batchSize: 7,
  });
  try {
    for (let i = 1; i <= 30; i++) sink.push('o', apiCall(), i);
    for (let i = 0; received.length < 30 && i < 200; i++) await sleep(20);
    assert.deepEqual(
      received.map((r) => r.seq),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    assert.ok(received.every((r) => r.kind === 'Event'));
    assert.equal(sink.dropped, 0);
  } finally {
    sink.close();
    server.close();
  }
});

test('the backlog is bounded: the oldest unsent records are dropped from the copy and counted', async () => {
  const sink = new WebhookSink('http://127.0.0.1:9/', pino({ level: 'silent' }), {
    maxBacklog: 10,
    baseDelayMs: 10_000,
  });
  try {
    for (let i = 1; i <= 25; i++) sink.push('o', apiCall(), i);
    assert.equal(sink.backlog, 10);
    assert.equal(sink.dropped, 15);
  } finally {
    sink.close();
  }
});
