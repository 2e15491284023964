import type https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import type { Target } from './targets.js';

/**
 * Reads one answer over a bare TLS socket into one reused buffer, with no HTTP parsing and no stream
 * machinery (`onread`), and gives back the bytes read and this process's CPU while reading. That is the
 * least a Node.js process pays to take the apiserver's TLS records off the wire: a floor under any hop that
 * terminates the apiserver's TLS, whatever it does with the bytes afterwards.
 */
export async function readOverBareTls(
  target: Target,
  uri: string,
): Promise<{ bytes: number; cpuMs: number }> {
  const base = new URL(target.base);
  const agent = target.options().agent as https.Agent;
  const { ca, cert, key } = agent.options;
  const buffer = Buffer.alloc(64 * 1024);
  const own = process.cpuUsage();
  const bytes = await new Promise<number>((resolve, reject) => {
    let read = 0;
    // `onread` is documented for tls.connect but missing from its option type.
    const options: tls.ConnectionOptions & { onread: net.OnReadOpts } = {
      host: base.hostname,
      port: Number(base.port),
      ca,
      cert,
      key,
      onread: {
        buffer,
        callback: (n: number) => {
          read += n;
          return true;
        },
      },
    };
    // Written, not ended: Go's server takes a half-closed connection for a client gone and cancels.
    const socket = tls.connect(options, () =>
      socket.write(
        `GET ${uri} HTTP/1.1\r\nHost: ${base.host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
      ),
    );
    socket.on('error', reject);
    socket.on('close', () => resolve(read));
  });
  const used = process.cpuUsage(own);
  return { bytes, cpuMs: (used.user + used.system) / 1000 };
}
