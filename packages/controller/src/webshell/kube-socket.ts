// The only way out of a shell's sandbox: one Unix socket per shell, on which the controller serves the kube
// proxy to that shell alone, over TLS with its own certificate (kubectl will not send a token in the clear). A shell's kube token is bound to its socket both ways: it is refused on every
// other listener (so a token that leaks out of the shell, e.g. printed or uploaded with --from-file, is
// worth nothing), and the socket takes no other credential (so a shell cannot act with someone else's).
import fs from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { CLUSTER_PROXY_PREFIX, ZtkaError } from '@ztka/protocol';
import { refuseOnSocket } from '../http/limits.js';

export interface KubeHandler {
  handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void;
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface BoundCredential {
  channel: string | null;
  sessionId: string | null;
}

const MAX_HEADER_BYTES = 64 * 1024;

export class ShellKubeSockets {
  /** Connection → the shell whose socket it arrived on. */
  readonly #bound = new WeakMap<Socket | Duplex, string>();
  #handler: KubeHandler | undefined;

  constructor(private readonly tls: { certPem: string; keyPem: string }) {}

  /** The kube proxy; set once it exists (it needs `admits` first). */
  serve(handler: KubeHandler): void {
    this.#handler = handler;
  }

  /**
   * Whether a credential may be used on the connection it came on: a browser shell's only on that shell's
   * socket, and nothing else there.
   */
  admits(connection: Socket | Duplex, credential: BoundCredential): boolean {
    const shell = this.#bound.get(connection);
    if (credential.channel === 'web-shell') return shell !== undefined && shell === credential.sessionId;
    return shell === undefined;
  }

  /** Listens on `socketPath` for shell `sessionId`; the socket belongs to `uid` alone. */
  async listen(sessionId: string, socketPath: string, uid: number): Promise<{ close(): Promise<void> }> {
    const handler = this.#handler;
    if (!handler) throw new Error('the kube proxy is not wired to the shell sockets');
    const options = { cert: this.tls.certPem, key: this.tls.keyPem, maxHeaderSize: MAX_HEADER_BYTES };
    const server = https.createServer(options, (req, res) => {
      if (req.url?.startsWith(CLUSTER_PROXY_PREFIX)) handler.handleRequest(req, res);
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    });
    // A request's socket is the TLS socket; an upgrade's too.
    server.on('secureConnection', (socket) => this.#bound.set(socket, sessionId));
    server.on('upgrade', (req, socket, head) => {
      if (req.url?.startsWith(CLUSTER_PROXY_PREFIX)) handler.handleUpgrade(req, socket, head);
      else refuseOnSocket(socket, req.url, new ZtkaError('not_found', 'nothing is served at this path'));
    });
    await fs.rm(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await fs.chmod(socketPath, 0o600);
    await fs.chown(socketPath, uid, uid);
    return {
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }
}
