import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_HEADER_BYTES,
  V1_MAX_BYTES,
  V2_SIGNATURE,
  mayBeProxyHeader,
  readProxyHeader,
  type ProxyHeaderRead,
} from './proxy-protocol.js';

/** A v2 header: version/command byte, family/transport byte, then the body as given. */
function v2(verCmd: number, famProto: number, body: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(body.length);
  return Buffer.concat([V2_SIGNATURE, Buffer.from([verCmd, famProto]), length, body]);
}

function inet4(src: number[], srcPort: number, tlvs = Buffer.alloc(0)): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(srcPort, 0);
  ports.writeUInt16BE(8443, 2);
  return Buffer.concat([Buffer.from(src), Buffer.from([10, 0, 0, 1]), ports, tlvs]);
}

function inet6(src: string, srcPort: number): Buffer {
  const address = (text: string) => {
    const [head = '', tail = ''] = text.split('::');
    const groups = (s: string) => (s === '' ? [] : s.split(':'));
    const all = [...groups(head)];
    const rest = groups(tail);
    while (all.length + rest.length < 8) all.push('0');
    return Buffer.from([...all, ...rest].map((g) => g.padStart(4, '0')).join(''), 'hex');
  };
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(srcPort, 0);
  ports.writeUInt16BE(8443, 2);
  return Buffer.concat([address(src), address('2001:db8::ff'), ports]);
}

const complete = (read: ProxyHeaderRead) => {
  assert.equal(read.state, 'complete', JSON.stringify(read));
  return read.state === 'complete' ? read.header : assert.fail();
};
const reason = (read: ProxyHeaderRead) => (read.state === 'invalid' ? read.reason : `(${read.state})`);

test('v2 PROXY over TCP/IPv4: the client, and the length the header took from the stream', () => {
  const header = v2(0x21, 0x11, inet4([203, 0, 113, 7], 51234));
  const tls = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]);
  const read = complete(readProxyHeader(Buffer.concat([header, tls])));
  assert.deepEqual(read, {
    length: 28,
    source: { address: '203.0.113.7', port: 51234, family: 'IPv4' },
  });
});

test('v2 PROXY over TCP/IPv6: the address in the form Node gives a socket', () => {
  const read = complete(readProxyHeader(v2(0x21, 0x21, inet6('2001:DB8:0:0:1::1', 443))));
  assert.deepEqual(read.source, { address: '2001:db8::1:0:0:1', port: 443, family: 'IPv6' });
  const mapped = complete(readProxyHeader(v2(0x21, 0x21, inet6('::ffff:7f00:2', 1))));
  assert.equal(mapped.source?.address, '::ffff:127.0.0.2');
});

test('v2 TLVs after the addresses are counted in the length and skipped', () => {
  const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00]); // ALPN "h2", a NOOP
  const header = v2(0x21, 0x11, inet4([192, 0, 2, 1], 1000, tlvs));
  const read = complete(readProxyHeader(header));
  assert.equal(read.length, header.length);
  assert.equal(read.source?.address, '192.0.2.1');
});

test("v2 LOCAL (the balancer's own health check), UNSPEC and Unix sources keep the real address", () => {
  // LOCAL ignores whatever address block follows, even a nonsense family.
  assert.deepEqual(complete(readProxyHeader(v2(0x20, 0x00, Buffer.alloc(0)))), {
    length: 16,
    source: undefined,
  });
  assert.equal(complete(readProxyHeader(v2(0x20, 0x11, inet4([1, 2, 3, 4], 5)))).source, undefined);
  assert.equal(complete(readProxyHeader(v2(0x20, 0xf0, Buffer.alloc(3)))).source, undefined);
  assert.equal(complete(readProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)))).source, undefined);
  assert.equal(complete(readProxyHeader(v2(0x21, 0x31, Buffer.alloc(216)))).source, undefined);
});

test('a truncated header is incomplete at every length, never a wrong answer', () => {
  for (const header of [
    v2(0x21, 0x11, inet4([203, 0, 113, 7], 51234)),
    v2(0x21, 0x21, inet6('2001:db8::1', 443)),
    Buffer.from('PROXY TCP4 198.51.100.22 203.0.113.7 35646 80\r\n', 'latin1'),
  ]) {
    for (let n = 0; n < header.length; n++)
      assert.equal(readProxyHeader(header.subarray(0, n)).state, 'incomplete', `${n} bytes`);
    assert.equal(readProxyHeader(header).state, 'complete');
  }
});

test('an oversized v2 header is refused from its fixed part, before its body arrives', () => {
  const fixed = v2(0x21, 0x11, Buffer.alloc(MAX_HEADER_BYTES - 16 + 1)).subarray(0, 16);
  assert.match(reason(readProxyHeader(fixed)), /PROXY header of 1025 bytes/);
  const largest = v2(0x21, 0x11, inet4([1, 2, 3, 4], 5, Buffer.alloc(MAX_HEADER_BYTES - 28)));
  assert.equal(complete(readProxyHeader(largest)).length, MAX_HEADER_BYTES);
  const huge = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]);
  assert.equal(readProxyHeader(huge).state, 'invalid');
});

test('malformed v2 headers are refused', () => {
  const cases: [Buffer, RegExp][] = [
    [v2(0x11, 0x11, inet4([1, 2, 3, 4], 5)), /version 1/],
    [v2(0x31, 0x11, inet4([1, 2, 3, 4], 5)), /version 3/],
    [v2(0x22, 0x11, inet4([1, 2, 3, 4], 5)), /command 2/],
    [v2(0x21, 0x41, inet4([1, 2, 3, 4], 5)), /family 4/],
    [v2(0x21, 0x12, inet4([1, 2, 3, 4], 5)), /transport 2/],
    [v2(0x21, 0x10, inet4([1, 2, 3, 4], 5)), /transport 0/],
    [v2(0x21, 0x11, Buffer.alloc(11)), /too short/],
    [v2(0x21, 0x21, Buffer.alloc(35)), /too short/],
    [v2(0x21, 0x31, Buffer.alloc(215)), /too short/],
  ];
  for (const [header, expected] of cases) assert.match(reason(readProxyHeader(header)), expected);
});

test('a stream that is not a PROXY header is refused at its first byte that says so', () => {
  assert.match(reason(readProxyHeader(Buffer.from([0x16, 0x03, 0x01]))), /no PROXY protocol header/);
  assert.match(reason(readProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'))), /no PROXY protocol header/);
  assert.match(reason(readProxyHeader(Buffer.from('\r\n\r\n\0\r\nQUIX'))), /no PROXY/);
  assert.match(reason(readProxyHeader(Buffer.from('PROXZ'))), /no PROXY/);
});

test('v1: TCP4, TCP6 and UNKNOWN lines', () => {
  const line = (s: string) => Buffer.from(`${s}\r\n`, 'latin1');
  assert.deepEqual(complete(readProxyHeader(line('PROXY TCP4 198.51.100.22 203.0.113.7 35646 80'))), {
    length: 47,
    source: { address: '198.51.100.22', port: 35646, family: 'IPv4' },
  });
  const six = complete(readProxyHeader(line('PROXY TCP6 2001:DB8:0:0::1 ::1 65535 0')));
  assert.deepEqual(six.source, { address: '2001:db8::1', port: 65535, family: 'IPv6' });
  assert.equal(complete(readProxyHeader(line('PROXY UNKNOWN'))).source, undefined);
  assert.equal(complete(readProxyHeader(line('PROXY UNKNOWN ::1 ::1 1 2'))).source, undefined);
  const longest = line(`PROXY UNKNOWN ${'f'.repeat(V1_MAX_BYTES - 16)}`);
  assert.equal(longest.length, V1_MAX_BYTES);
  assert.equal(complete(readProxyHeader(longest)).length, V1_MAX_BYTES);
});

test('malformed v1 lines are refused', () => {
  const bad = [
    'PROXY TCP4 198.51.100.22 203.0.113.7 35646', // a field short
    'PROXY TCP4 198.51.100.22 203.0.113.7 35646 80 9', // a field over
    'PROXY TCP4  198.51.100.22 203.0.113.7 35646 80', // two spaces
    'PROXY TCP5 198.51.100.22 203.0.113.7 35646 80',
    'PROXY TCP4 2001:db8::1 203.0.113.7 35646 80', // the wrong family
    'PROXY TCP6 198.51.100.22 ::1 35646 80',
    'PROXY TCP4 198.51.100.256 203.0.113.7 35646 80',
    'PROXY TCP4 198.51.100.22 203.0.113 35646 80',
    'PROXY TCP4 198.51.100.22 203.0.113.7 65536 80',
    'PROXY TCP4 198.51.100.22 203.0.113.7 035646 80',
    'PROXY TCP4 198.51.100.22 203.0.113.7 -1 80',
    'PROXY TCP4 198.51.100.22 203.0.113.7 35646 ',
    'PROXY tcp4 198.51.100.22 203.0.113.7 35646 80',
  ];
  for (const text of bad)
    assert.equal(readProxyHeader(Buffer.from(`${text}\r\n`, 'latin1')).state, 'invalid', text);
});

test('a v1 line without CRLF within 107 bytes is refused, however it continues', () => {
  const noEnd = Buffer.from(`PROXY TCP4 ${'1'.repeat(V1_MAX_BYTES)}`, 'latin1');
  assert.match(reason(readProxyHeader(noEnd.subarray(0, V1_MAX_BYTES - 1))), /incomplete/);
  assert.match(reason(readProxyHeader(noEnd)), /too long/);
  // A CRLF just past the limit does not make it a line.
  const late = Buffer.from(`PROXY UNKNOWN ${'f'.repeat(V1_MAX_BYTES - 15)}\r\n`, 'latin1');
  assert.match(reason(readProxyHeader(late)), /too long/);
});

test('mayBeProxyHeader tells a header from TLS at the first byte, and waits on an ambiguous prefix', () => {
  assert.equal(mayBeProxyHeader(Buffer.alloc(0)), false);
  assert.equal(mayBeProxyHeader(Buffer.from([0x16])), false);
  assert.equal(mayBeProxyHeader(Buffer.from('\r')), true);
  assert.equal(mayBeProxyHeader(Buffer.from('P')), true);
  assert.equal(mayBeProxyHeader(V2_SIGNATURE), true);
  assert.equal(mayBeProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4')), true);
  assert.equal(mayBeProxyHeader(Buffer.from('POST / HTTP/1.1')), false);
  assert.equal(mayBeProxyHeader(Buffer.from('\r\n\r\n\0\r\nQUIX')), false);
});
