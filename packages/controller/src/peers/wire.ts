// What one replica says to another on the peer listener (HTTP/2 over mutual TLS). A proxied request keeps
// its own method, path and headers (those the agent reads included) and says which tunnel it is for; the
// holder answers it from that tunnel or refuses the stream (REFUSED_STREAM: nothing was done, retry).
export const PEER_OP_HEADER = 'ztka-peer-op';
export const PEER_CLUSTER_HEADER = 'ztka-peer-cluster';
export const PEER_SESSION_HEADER = 'ztka-peer-session';

export const PEER_OPS = {
  /** Carry this stream to the cluster's apiserver through the named tunnel. */
  proxy: 'proxy',
  /** Is the named tunnel alive? (An agent's new connection arrived elsewhere.) */
  probe: 'probe',
  /**
   * Reset these proxy streams of this session, {streams: [ids]}: a cancellation in-band (CANCEL_GRACE_MS in
   * @ztka/protocol), since the holder's session is a server's that counts the resets it receives.
   */
  cancel: 'cancel',
} as const;
