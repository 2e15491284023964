// Who sent a request on the kube path: only kube credentials reach clusters. API keys and console sessions
// never do, and a browser shell's token only through that shell's own kube socket.
import type { IncomingMessage } from 'node:http';
import type { Principal } from './credentials.js';
import { bearerToken, type Authenticator } from './authenticate.js';
import type { ShellKubeSockets } from '../webshell/kube-socket.js';

export function kubeCredentialOf(
  authenticator: Authenticator,
  shellSockets: Pick<ShellKubeSockets, 'admits'>,
): (req: IncomingMessage) => Promise<Principal | undefined> {
  return async (req) => {
    const token = bearerToken(req.headers);
    if (token === undefined) return undefined;
    const principal = await authenticator.verify(token, ['kubeconfig', 'kube_token']);
    return principal && shellSockets.admits(req.socket, principal) ? principal : undefined;
  };
}
