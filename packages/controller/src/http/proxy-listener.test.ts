// The rule on a real HTTPS server on loopback: the balancer is 127.0.0.2, everyone else another 127.0.0.x
// (Linux loopback answers all of 127/8, and `localAddress` picks the source).
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { selfSignedCert } from '@ztka/testenv';
import { acceptProxyProtocol, parseTrustedProxies } from './proxy-listener.js';
import { V2_SIGNATURE } from './proxy-protocol.js';

const BALANCER = '127.0.0.2';
const OTHER = '127.0.0.3';
let server: https.Server;
let port: number;
const warnings: { reason?: string }[] = [];

before(async () => {
  server = https.createServer(selfSignedCert(), (req, res) => {
    const s = req.socket;
    res.end(JSON.stringify({ address: s.remoteAddress, port: s.remotePort, family: s.remoteFamily }));
  });
  acceptProxyProtocol(server, {
    trusted: parseTrustedProxies(`${BALANCER}/32`),
    headerTimeoutMs: 300,
    log: { warn: (fields: { reason?: string }) => void warnings.push(fields) },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(() => new Promise((resolve) => server.close(resolve)));

function v2ProxyHeader(address: number[], srcPort: number): Buffer {
  const body = Buffer.alloc(12);
  Buffer.from(address).copy(body, 0);
  Buffer.from([127, 0, 0, 1]).copy(body, 4);
  body.writeUInt16BE(srcPort, 8);
  body.writeUInt16BE(port, 10);
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 12]), body]);
}

const LOCAL_HEADER = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]);

/**
 * Connects from `from`, sends `preface` in pieces of `piece` bytes, then makes one HTTPS request over
 * the same connection: the address the server saw, or the error that ended the connection.
 */
function request(
  from: string,
  preface: Buffer | undefined,
  piece = Infinity,
): Promise<{ address: string; port: number; family: string } | { error: string }> {
  return new Promise((resolve) => {
    const raw = net.connect({ host: '127.0.0.1', port, localAddress: from }, async () => {
      for (let i = 0; preface && i < preface.length; i += piece) {
        raw.write(preface.subarray(i, i + piece));
        await new Promise((r) => setImmediate(r));
      }
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          rejectUnauthorized: false,
          createConnection: () => tls.connect({ socket: raw, rejectUnauthorized: false }),
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body)));
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end();
    });
    raw.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

test("the balancer's header names the client, for every reader of the socket's address", async () => {
  assert.deepEqual(await request(BALANCER, v2ProxyHeader([203, 0, 113, 7], 40001)), {
    address: '203.0.113.7',
    port: 40001,
    family: 'IPv4',
  });
  // However the header is cut up on the way.
  assert.deepEqual(await request(BALANCER, v2ProxyHeader([198, 51, 100, 9], 40002), 1), {
    address: '198.51.100.9',
    port: 40002,
    family: 'IPv4',
  });
  const v1 = Buffer.from('PROXY TCP6 2001:db8::7 ::1 40003 443\r\n', 'latin1');
  assert.deepEqual(await request(BALANCER, v1), { address: '2001:db8::7', port: 40003, family: 'IPv6' });
});

test("the balancer's own connection (LOCAL, a health check) keeps its own address", async () => {
  const seen = await request(BALANCER, LOCAL_HEADER);
  assert.equal('address' in seen && seen.address, BALANCER);
});

test('a connection from the balancer without a valid header is closed before TLS', async () => {
  warnings.length = 0;
  assert.ok('error' in (await request(BALANCER, undefined)));
  const wrongVersion = Buffer.concat([V2_SIGNATURE, Buffer.from([0x11, 0x11, 0, 12]), Buffer.alloc(12)]);
  assert.ok('error' in (await request(BALANCER, wrongVersion)));
  const oversized = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x10, 0x00])]);
  assert.ok('error' in (await request(BALANCER, oversized)));
  // The first refusal is logged with its reason; the rest of the minute only counted.
  assert.deepEqual(
    warnings.map((w) => w.reason),
    ['no PROXY protocol header'],
  );
});

test('a connection that sends nothing, or half a header, is closed after the header timeout', async () => {
  const closedAfter = (from: string, bytes: Buffer) =>
    new Promise<number>((resolve) => {
      const started = Date.now();
      const raw = net.connect({ host: '127.0.0.1', port, localAddress: from }, () => raw.write(bytes));
      raw.on('error', () => undefined);
      raw.on('close', () => resolve(Date.now() - started));
      raw.resume();
    });
  const header = v2ProxyHeader([203, 0, 113, 7], 1);
  const cases: [string, Buffer][] = [
    [BALANCER, Buffer.alloc(0)],
    [BALANCER, header.subarray(0, 20)],
    [OTHER, Buffer.alloc(0)],
  ];
  for (const [from, bytes] of cases) {
    const ms = await closedAfter(from, bytes);
    assert.ok(ms >= 250 && ms < 3000, `closed after ${ms} ms`);
  }
});

test('a header from any other address is refused; without one that address is served as itself', async () => {
  assert.ok('error' in (await request(OTHER, v2ProxyHeader([10, 0, 0, 1], 1))));
  assert.ok('error' in (await request(OTHER, Buffer.from('PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n'))));
  assert.ok('error' in (await request(OTHER, LOCAL_HEADER)));
  const seen = await request(OTHER, undefined);
  assert.equal('address' in seen && seen.address, OTHER);
});

test('the trusted list: addresses and CIDR blocks, IPv4 (mapped too) and IPv6; anything else is refused', () => {
  const list = parseTrustedProxies(' 10.0.0.0/8, 192.0.2.5 ,2001:db8::/32');
  assert.equal(list.check('10.200.0.1', 'ipv4'), true);
  assert.equal(list.check('::ffff:10.200.0.1', 'ipv6'), true);
  assert.equal(list.check('192.0.2.5', 'ipv4'), true);
  assert.equal(list.check('192.0.2.6', 'ipv4'), false);
  assert.equal(list.check('2001:db8:1::1', 'ipv6'), true);
  assert.equal(list.check('2001:db9::1', 'ipv6'), false);
  for (const bad of [
    '',
    ' , ',
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    'lb.example',
    '10.0.0/8',
  ])
    assert.throws(() => parseTrustedProxies(bad), /not an IP address or CIDR block|no address given/, bad);
});
