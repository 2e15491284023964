// Brings this replica into the set of replicas on its database: its row and heartbeat, the sweep of what
// stopped replicas left, and, with a peer listener, the peer hop both ways.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { hostPort } from '../config.js';
import type { ChangeFeed } from '../org/changes.js';
import { peerCredentials } from '../pki/peer.js';
import type { Database } from '../store/schema.js';
import type { SecretBox } from '../store/sealed.js';
import type { TunnelRegistry } from '../tunnel/session.js';
import { PeerClients } from './client.js';
import { TunnelLocations } from './locations.js';
import { ReplicaDirectory } from './replicas.js';
import { TunnelRouter } from './router.js';
import { startPeerServer, type PeerServer } from './server.js';

export interface Peering {
  replicaId: string;
  router: TunnelRouter;
  /** The URL peers reach this replica at, if it takes peer requests. */
  peerUrl: string | undefined;
  /** A stopping replica's peer listener takes no new streams and lets short carried ones finish. */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startPeering(deps: {
  db: Kysely<Database>;
  secretBox: SecretBox;
  tunnels: TunnelRegistry;
  changes: ChangeFeed;
  clusterExists: (cluster: string) => Promise<boolean>;
  peerListen: string | undefined;
  peerUrl: string | undefined;
  probeTimeoutMs: number;
  log: Logger;
}): Promise<Peering> {
  const replicaId = randomUUID();
  const replicas = new ReplicaDirectory(deps.db, replicaId, deps.log);
  const locations = new TunnelLocations(deps.db, replicas);
  let server: PeerServer | undefined;
  let peers: PeerClients | undefined;
  let peerUrl: string | undefined;
  if (deps.peerListen) {
    const credentials = await peerCredentials(deps.db, deps.secretBox, replicaId);
    server = await startPeerServer({
      listen: hostPort(deps.peerListen),
      credentials,
      tunnels: deps.tunnels,
      probeTimeoutMs: deps.probeTimeoutMs,
      log: deps.log,
    });
    peerUrl = deps.peerUrl ?? `https://${server.address}`;
    peers = new PeerClients(credentials, deps.log);
  }
  await replicas.register(peerUrl ?? null);
  // Whatever replicas that stopped said they held is not true any more; for a lone controller, whatever
  // any other said (a previous run of itself, killed a moment ago, among them).
  if (peers) await locations.sweep();
  else await locations.forgetOthers();
  const router = new TunnelRouter(deps.tunnels, locations, peers, deps.log);
  replicas.start(locations, () => router.reconcile());
  const off = router.closeDeleted(deps.changes, deps.clusterExists);
  deps.log.info({ replica: replicaId, peerUrl }, 'replica registered');
  return {
    replicaId,
    router,
    peerUrl,
    drain: async (graceMs) => {
      await server?.drain(graceMs);
    },
    close: async () => {
      off();
      await router.settled();
      peers?.closeAll();
      await server?.close();
      await replicas.stop();
    },
  };
}
