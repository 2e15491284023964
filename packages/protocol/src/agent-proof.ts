// How an agent proves, on every connect, that it holds the key it made at registration. The agent keeps the
// private half beside its credential; the controller keeps only the public half, bound to that credential.
// So a credential copied out of the agent's Secret without the key is worthless.
//
// The proof is a signature in a request header rather than a TLS client certificate because it must survive
// what sits between the agent and the controller: a load balancer that terminates TLS, and several controller
// replicas behind it (any replica can check it with the public key from the shared store). It is bound to the
// credential and to the headers the controller acts on, dated by the agent, and each one is accepted once:
// the controller keeps the nonces it accepted, in its store, until their proof's time has passed the window.
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

/** `v1.<epoch ms>.<nonce>.<signature>`, on the agent's upgrade request to AGENT_CONNECT_PATH. */
export const AGENT_PROOF_HEADER = 'x-ztka-agent-proof';
/**
 * How far a proof's time may lie from the controller's clock, either way. Wide enough for clocks kept by
 * NTP on both ends; a proof seen in transit is of use for no longer than this, and only once.
 */
export const AGENT_PROOF_WINDOW_MS = 5 * 60_000;

// Names what is signed, so that a signature made with this key for anything else can never pass as a proof.
const CONTEXT = 'ztka-agent-connect/v1';
const PROOF = /^v1\.(\d{13})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{86})$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** What a proof binds besides its time and nonce: the credential and the headers the controller acts on. */
export interface AgentProofClaims {
  /** The id part of the agent credential (`ztka_<id>.<secret>`), see agentCredentialId(). */
  credentialId: string;
  /** The cluster identity header's value (kube-system UID). */
  clusterIdentity: string;
  /** The JIT namespace header's value. */
  jitNamespace: string;
}

export interface AgentKeyPair {
  /** PKCS#8 PEM: stays with the agent, beside its credential. */
  privateKeyPem: string;
  /** SPKI DER in base64url: what registration sends and the controller stores. */
  publicKey: string;
}

export type AgentProofCheck =
  | { ok: true; at: number; nonce: string }
  /** `malformed` and `signature`: not made with the key; `clock`: made with it, but dated outside the window. */
  | { ok: false; reason: 'malformed' | 'signature' | 'clock' };

/** A new Ed25519 key pair for an agent's registration. */
export function generateAgentKey(): AgentKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64url'),
  };
}

/** The registered public key as a key object, or undefined unless it is an Ed25519 public key. */
export function parseAgentPublicKey(encoded: unknown): KeyObject | undefined {
  if (typeof encoded !== 'string' || encoded.length > 128 || !BASE64URL.test(encoded)) return undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(encoded, 'base64url'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** `SHA256:<base64>` of the public key, as OpenSSH prints keys: what audit events name the key by. */
export function agentKeyFingerprint(publicKey: string): string {
  const digest = createHash('sha256').update(Buffer.from(publicKey, 'base64url')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** The id part of a `<prefix>_<id>.<secret>` credential (empty for anything else). */
export function agentCredentialId(credential: string): string {
  const match = /^[a-z][a-z0-9]*_([A-Za-z0-9_-]+)\./.exec(credential);
  return match?.[1] ?? '';
}

// JSON of an array: one unambiguous encoding, whatever characters the fields hold.
function message(claims: AgentProofClaims, at: number, nonce: string): Buffer {
  return Buffer.from(
    JSON.stringify([CONTEXT, claims.credentialId, at, nonce, claims.clusterIdentity, claims.jitNamespace]),
  );
}

/** A proof for one connect, dated `at` (the agent's clock), for the AGENT_PROOF_HEADER. */
export function signAgentProof(
  privateKey: KeyObject,
  claims: AgentProofClaims,
  at: number = Date.now(),
  nonce: string = randomBytes(16).toString('base64url'),
): string {
  const signature = sign(null, message(claims, at, nonce), privateKey).toString('base64url');
  return `v1.${at}.${nonce}.${signature}`;
}

/**
 * Whether `proof` was made with the private half of `publicKey` for these claims, within the window of
 * `now`. Only a proof that passes is fit to be recorded as used (its nonce) until `at + AGENT_PROOF_WINDOW_MS`.
 */
export function verifyAgentProof(
  proof: string,
  publicKey: KeyObject,
  claims: AgentProofClaims,
  now: number,
): AgentProofCheck {
  const parts = PROOF.exec(proof);
  if (!parts) return { ok: false, reason: 'malformed' };
  const at = Number(parts[1]);
  const nonce = parts[2]!;
  const signature = Buffer.from(parts[3]!, 'base64url');
  if (!verify(null, message(claims, at, nonce), publicKey, signature))
    return { ok: false, reason: 'signature' };
  if (Math.abs(now - at) > AGENT_PROOF_WINDOW_MS) return { ok: false, reason: 'clock' };
  return { ok: true, at, nonce };
}
