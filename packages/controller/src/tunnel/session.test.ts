// The tunnel's keepalive against a stand-in agent (nghttp2 on loopback) behind a link this test controls:
// a link gone silent ends the tunnel within a ping's interval and timeout, failing what was in flight; a
// slow link whose data keeps coming does not, however late the ping's answer.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { AgentSession, type KeepaliveOptions } from './session.js';

/** A link between the controller and the agent that can go silent, or pass the agent's bytes slowly. */
class Link {
  #silent = false;
  #queue: Buffer[] = [];
  #pump: NodeJS.Timeout | undefined;
  constructor(
    readonly controllerEnd: net.Socket,
    readonly agentEnd: net.Socket,
  ) {
    controllerEnd.on('data', (chunk: Buffer) => {
      if (!this.#silent) agentEnd.write(chunk);
    });
    agentEnd.on('data', (chunk: Buffer) => {
      if (this.#silent) return;
      if (this.#pump) this.#queue.push(chunk);
      else controllerEnd.write(chunk);
    });
    for (const s of [controllerEnd, agentEnd]) s.on('error', () => undefined);
  }

  /** Nothing passes any more, either way; both connections stay open (a frozen agent, a black hole). */
  silence(): void {
    this.#silent = true;
    clearInterval(this.#pump);
  }

  /** The agent's bytes reach the controller at `bytes` per `everyMs`, in order, however fast they come. */
  throttle(bytes: number, everyMs: number): void {
    this.#pump = setInterval(() => {
      let budget = bytes;
      while (budget > 0 && this.#queue.length > 0) {
        const head = this.#queue[0]!;
        const part = head.subarray(0, budget);
        this.controllerEnd.write(part);
        budget -= part.length;
        if (part.length === head.length) this.#queue.shift();
        else this.#queue[0] = head.subarray(part.length);
      }
    }, everyMs);
  }

  close(): void {
    clearInterval(this.#pump);
    this.controllerEnd.destroy();
    this.agentEnd.destroy();
  }
}

/** A session to an agent that answers every stream with `bodyBytes` bytes, through a Link. */
async function tunnel(keepalive: KeepaliveOptions, bodyBytes = 0) {
  const agent = net.createServer((socket) =>
    http2.performServerHandshake(socket).on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end(Buffer.alloc(bodyBytes, 'x'));
    }),
  );
  await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
  const toAgent = net.connect((agent.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((r) => toAgent.once('connect', r));
  // The controller's side of the link: a socket pair over loopback, the far end forwarded to the agent.
  const relay = net.createServer();
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => relay.once('connection', r));
  const controllerSocket = net.connect((relay.address() as AddressInfo).port, '127.0.0.1');
  const link = new Link(await accepted, toAgent);
  const session = new AgentSession(
    {
      cluster: 'desktop',
      agentVersion: 't',
      kubeVersion: 't',
      jitNamespace: 'ztka-system',
      remoteAddress: '',
      transport: 'h2',
    },
    {
      stream: controllerSocket,
      end: () => controllerSocket.destroy(),
      bytesReceived: () => controllerSocket.bytesRead,
    },
    pino({ level: 'silent' }),
    keepalive,
  );
  const closed = new Promise<number>((r) => session.onClose(() => r(performance.now())));
  return {
    session,
    link,
    closed,
    close: async () => {
      session.close('test over');
      link.close();
      controllerSocket.destroy();
      await Promise.all([new Promise((r) => agent.close(r)), new Promise((r) => relay.close(r))]);
    },
  };
}

/** A GET on the tunnel: resolves with its body's size, or with the error that ended it. */
function get(session: AgentSession): Promise<{ bytes: number; error?: string }> {
  return new Promise((resolve) => {
    let bytes = 0;
    const stream = session.h2.request({ ':path': '/' });
    stream.on('data', (c: Buffer) => (bytes += c.length));
    stream.on('end', () => resolve({ bytes }));
    stream.on('error', (err) => resolve({ bytes, error: err.message }));
    stream.on('close', () => resolve({ bytes, error: 'closed' }));
  });
}

test('a silent link ends the tunnel within one interval and one timeout, and fails what is in flight', async (t) => {
  const keepalive = { intervalMs: 200, timeoutMs: 300 };
  const rig = await tunnel(keepalive);
  t.after(rig.close);
  // Answered pings first: the tunnel is healthy and stays up.
  const alive = new Promise<void>((r) => rig.session.onAlive(r));
  await alive;
  assert.equal(rig.session.isOpen, true);

  rig.link.silence();
  const silencedAt = performance.now();
  const inFlight = get(rig.session);
  const closedAt = await rig.closed;
  const outcome = await inFlight;
  assert.ok(outcome.error, 'the request in flight was not failed');
  const took = closedAt - silencedAt;
  assert.ok(
    took <= keepalive.intervalMs + keepalive.timeoutMs + 100,
    `closed ${Math.round(took)} ms after the link went silent`,
  );
});

test('a slow link whose data keeps coming stays up, however late the ping answer', async (t) => {
  // 1 MiB at 320 KiB/s: the agent's answer to each ping waits behind about three seconds of data, ten times
  // the timeout.
  const keepalive = { intervalMs: 100, timeoutMs: 300 };
  const rig = await tunnel(keepalive, 1 << 20);
  t.after(rig.close);
  await new Promise<void>((r) => rig.session.onAlive(r));
  rig.link.throttle(32 * 1024, 100);
  const started = performance.now();
  const outcome = await get(rig.session);
  assert.equal(outcome.error, undefined, `the transfer failed after ${outcome.bytes} bytes`);
  assert.equal(outcome.bytes, 1 << 20);
  assert.ok(performance.now() - started > 3 * keepalive.timeoutMs, 'the link was not slow enough to test');
  assert.equal(rig.session.isOpen, true);
});
