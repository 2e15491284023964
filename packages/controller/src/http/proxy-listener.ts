// The PROXY protocol on the main listener (`--proxy-protocol-from`). A load balancer in TCP passthrough
// (TLS ends at the controller: agents prove their key and kubectl sends bearer tokens inside it) connects
// from its own address, so without the header every client would share it: one per-address rate limit,
// one login throttle, one source IP in every audit record.
//
// The rule fails closed both ways. A connection from a trusted address must begin with a valid header,
// read before TLS within a time and size limit, or it is closed; its client's address then becomes the
// TLS socket's remoteAddress, so every reader of it (Fastify's req.ip, the kube proxy, the agents'
// endpoint, the shell) sees the client without knowing the header existed. A connection from anywhere else
// that begins like a header is closed: nobody else may name the client.
import { BlockList, isIP, type Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { mayBeProxyHeader, readProxyHeader, type ClientAddress } from './proxy-protocol.js';

/** A trusted connection's header must have arrived by then; a balancer sends it with its first bytes. */
export const HEADER_TIMEOUT_MS = 5_000;
/** Refusals are logged at most this often, with a count of those in between: a flood is one line a minute. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

export interface ProxyProtocolOptions {
  /** The balancers' addresses (`parseTrustedProxies`). */
  trusted: BlockList;
  headerTimeoutMs?: number;
  log: Pick<Logger, 'warn'>;
}

/**
 * Reads `--proxy-protocol-from`: addresses and CIDR blocks, IPv4 or IPv6, separated by commas. An IPv4
 * entry also covers its IPv4-mapped IPv6 form (`::ffff:10.0.0.5`), as a dual-stack listener reports it.
 */
export function parseTrustedProxies(list: string): BlockList {
  const trusted = new BlockList();
  const entries = list
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new Error('no address given');
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const version = isIP(address);
    const bits = prefix === undefined ? (version === 6 ? 128 : 32) : Number(prefix);
    const max = version === 6 ? 128 : 32;
    if (
      version === 0 ||
      rest.length > 0 ||
      (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) ||
      !Number.isInteger(bits) ||
      bits > max
    )
      throw new Error(`"${entry}" is not an IP address or CIDR block`);
    trusted.addSubnet(address, bits, version === 6 ? 'ipv6' : 'ipv4');
  }
  return trusted;
}

/** The four addresses of a connection, the same read from the TCP socket or the TLS socket over it. */
function connectionKey(socket: Socket): string {
  return `${socket.remoteAddress} ${socket.remotePort} ${socket.localAddress} ${socket.localPort}`;
}

function isTrusted(trusted: BlockList, address: string | undefined): boolean {
  return address !== undefined && trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Puts the PROXY protocol rule in front of `server`'s TLS: its own 'connection' listeners (the TLS
 * handshake) receive a socket only once the rule is met, with the header's bytes taken off it.
 */
export function acceptProxyProtocol(server: TlsServer, opts: ProxyProtocolOptions): void {
  const timeoutMs = opts.headerTimeoutMs ?? HEADER_TIMEOUT_MS;
  const startTls = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  // What each trusted connection's header said, until its TLS socket exists (there is no public link from
  // a TLS server's socket back to the TCP socket it wraps, but both report the same four addresses).
  const headers = new Map<string, ClientAddress | 'balancer'>();

  let quietUntil = 0;
  let unlogged = 0;
  const refuse = (socket: Socket, reason: string) => {
    const remote = socket.remoteAddress;
    socket.destroy();
    const now = Date.now();
    if (now < quietUntil) return void unlogged++;
    opts.log.warn(
      { remote, reason, refusedSinceLastReport: unlogged },
      'connection refused (PROXY protocol)',
    );
    unlogged = 0;
    quietUntil = now + REFUSAL_LOG_INTERVAL_MS;
  };

  server.on('connection', (socket: Socket) => {
    const trusted = isTrusted(opts.trusted, socket.remoteAddress);
    let received: Buffer = Buffer.alloc(0);
    // A silent stranger is only an idle connection, as TLS's own handshake timeout would see it: not logged.
    const timer = setTimeout(
      () => (trusted ? refuse(socket, 'no PROXY header in time') : socket.destroy()),
      timeoutMs,
    );
    const onError = () => socket.destroy();
    const onClose = () => clearTimeout(timer);
    const hand = (rest: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      for (const listener of startTls) listener.call(server, socket);
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (!trusted) {
        if (mayBeProxyHeader(received)) return refuse(socket, 'PROXY header from an untrusted address');
        return hand(received);
      }
      const read = readProxyHeader(received);
      if (read.state === 'incomplete') return;
      if (read.state === 'invalid') return refuse(socket, read.reason);
      const key = connectionKey(socket);
      headers.set(key, read.header.source ?? 'balancer');
      socket.once('close', () => headers.delete(key));
      hand(received.subarray(read.header.length));
    };
    socket.on('data', onData).on('error', onError).on('close', onClose);
  });

  // First among the listeners, so the address is the client's before the HTTP server reads a byte.
  server.prependListener('secureConnection', (tls: TLSSocket) => {
    const key = connectionKey(tls);
    const source = headers.get(key);
    headers.delete(key);
    if (source === undefined) {
      // Every trusted connection passed the header check above; one that did not is never served.
      if (isTrusted(opts.trusted, tls.remoteAddress)) tls.destroy();
      return;
    }
    if (source === 'balancer') return;
    Object.defineProperties(tls, {
      remoteAddress: { value: source.address, configurable: true },
      remotePort: { value: source.port, configurable: true },
      remoteFamily: { value: source.family, configurable: true },
    });
  });
}
