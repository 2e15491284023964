// The PROXY protocol header (haproxy's spec, versions 1 and 2) that a load balancer in TCP passthrough puts
// before the client's first byte, naming the client the controller would otherwise not see. Pure parsing
// only: which connections must carry one is `proxy-listener.ts`'s concern.
//
// Our own rather than an npm package: the one maintained parser (proxy-protocol-js) parses a buffer it
// assumes whole, without checking the declared length against what arrived, and leaves framing a stream
// to the caller, which is most of the work and all of the risk; the format itself is a fixed binary head.
import { SocketAddress } from 'node:net';

/** The twelve bytes every v2 header begins with; no HTTP or TLS stream can begin so. */
export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const V2_FIXED_BYTES = 16;
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest v1 line the spec allows, CRLF included. */
export const V1_MAX_BYTES = 107;
/**
 * The largest v2 header accepted. Addresses take at most 216 bytes (Unix sockets); the rest leaves room for
 * the TLVs a balancer may add (ALPN, authority, its own ids), which are skipped, never read.
 */
export const MAX_HEADER_BYTES = 1024;

/** Where a connection really comes from, as `net.Socket` would name it. */
export interface ClientAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export interface ProxyHeader {
  /** Bytes the header took; what follows is the client's own stream. */
  length: number;
  /**
   * The client, or undefined when the header names none the controller can use: the balancer's own
   * connection (a v2 LOCAL health check), or an unknown, UNSPEC or Unix source. The spec says the
   * connection's real endpoints then stand, which is the balancer's address.
   */
  source: ClientAddress | undefined;
}

export type ProxyHeaderRead =
  { state: 'incomplete' } | { state: 'invalid'; reason: string } | { state: 'complete'; header: ProxyHeader };

const INCOMPLETE: ProxyHeaderRead = { state: 'incomplete' };
const invalid = (reason: string): ProxyHeaderRead => ({ state: 'invalid', reason });

/** Whether `a` and `b` agree on their common length: a stream begun with `a` may still be `b`. */
function agrees(a: Buffer, b: Buffer): boolean {
  const n = Math.min(a.length, b.length);
  return a.subarray(0, n).equals(b.subarray(0, n));
}

/**
 * Whether the bytes received so far begin (or may yet begin) a PROXY header of either version. A TLS
 * ClientHello begins with 0x16, so one byte tells the two apart.
 */
export function mayBeProxyHeader(data: Buffer): boolean {
  return data.length > 0 && (agrees(data, V2_SIGNATURE) || agrees(data, V1_PREFIX));
}

/**
 * Reads the header at the start of `data`, the bytes received so far: 'incomplete' while more are needed,
 * 'invalid' as soon as they cannot be a valid header (no PROXY header at all included).
 */
export function readProxyHeader(data: Buffer): ProxyHeaderRead {
  if (data.length === 0) return INCOMPLETE;
  if (agrees(data, V2_SIGNATURE)) return readV2(data);
  if (agrees(data, V1_PREFIX)) return readV1(data);
  return invalid('no PROXY protocol header');
}

function readV2(data: Buffer): ProxyHeaderRead {
  if (data.length < V2_FIXED_BYTES) return INCOMPLETE;
  const version = data.readUInt8(12) >> 4;
  const command = data.readUInt8(12) & 0x0f;
  const family = data.readUInt8(13) >> 4;
  const transport = data.readUInt8(13) & 0x0f;
  const length = V2_FIXED_BYTES + data.readUInt16BE(14);
  if (version !== 2) return invalid(`PROXY protocol version ${version}`);
  if (length > MAX_HEADER_BYTES) return invalid(`PROXY header of ${length} bytes`);
  if (data.length < length) return INCOMPLETE;
  const body = data.subarray(V2_FIXED_BYTES, length);
  // LOCAL: the balancer speaking for itself (health checks); the address block is to be ignored.
  if (command === 0) return { state: 'complete', header: { length, source: undefined } };
  if (command !== 1) return invalid(`PROXY command ${command}`);
  switch (family) {
    case 0: // AF_UNSPEC
      return { state: 'complete', header: { length, source: undefined } };
    case 1: // AF_INET: source, destination, source port, destination port
    case 2: {
      // AF_INET6, the same with 16-byte addresses
      const bytes = family === 1 ? 4 : 16;
      if (transport !== 1) return invalid(`PROXY transport ${transport} (only TCP is served)`);
      if (body.length < bytes * 2 + 4) return invalid('PROXY address block too short');
      const raw = body.subarray(0, bytes);
      const text =
        family === 1
          ? [...raw].join('.')
          : Array.from({ length: 8 }, (_, i) => raw.readUInt16BE(i * 2).toString(16)).join(':');
      const source = clientAddress(text, body.readUInt16BE(bytes * 2), family === 1 ? 'IPv4' : 'IPv6');
      return source ? { state: 'complete', header: { length, source } } : invalid('PROXY source address');
    }
    case 3: // AF_UNIX: two 108-byte paths, nothing an address limit or an audit record can use
      if (body.length < 216) return invalid('PROXY address block too short');
      return { state: 'complete', header: { length, source: undefined } };
    default:
      return invalid(`PROXY address family ${family}`);
  }
}

const PORT = /^(0|[1-9]\d{0,4})$/;

function readV1(data: Buffer): ProxyHeaderRead {
  const end = data.subarray(0, V1_MAX_BYTES).indexOf('\r\n', 0, 'latin1');
  if (end < 0) return data.length < V1_MAX_BYTES ? INCOMPLETE : invalid('PROXY v1 line too long');
  const length = end + 2;
  const fields = data.subarray(0, end).toString('latin1').split(' ');
  if (fields[1] === 'UNKNOWN') return { state: 'complete', header: { length, source: undefined } };
  const [, proto = '', src = '', dst = '', srcPort = '', dstPort = ''] = fields;
  if (fields.length !== 6 || (proto !== 'TCP4' && proto !== 'TCP6'))
    return invalid('PROXY v1 line malformed');
  const port = (text: string) => (PORT.test(text) && Number(text) <= 65535 ? Number(text) : undefined);
  const family = proto === 'TCP4' ? 'IPv4' : 'IPv6';
  const sourcePort = port(srcPort);
  if (sourcePort === undefined || port(dstPort) === undefined) return invalid('PROXY v1 port');
  const source = clientAddress(src, sourcePort, family);
  const destination = clientAddress(dst, 0, family);
  return source && destination
    ? { state: 'complete', header: { length, source } }
    : invalid('PROXY v1 address');
}

/** The address in the form Node gives a socket's (`::ffff:127.0.0.1`, `2001:db8::1`), or undefined. */
function clientAddress(
  text: string,
  port: number,
  family: ClientAddress['family'],
): ClientAddress | undefined {
  try {
    const parsed = new SocketAddress({ address: text, port, family: family === 'IPv4' ? 'ipv4' : 'ipv6' });
    return { address: parsed.address, port, family };
  } catch {
    return undefined;
  }
}
