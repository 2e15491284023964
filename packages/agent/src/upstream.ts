import https from 'node:https';
import tls from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';
import type { TunnelIdentity } from '@ztka/protocol';
import { H2Pool } from './h2-pool.js';

/** Where and how the agent reaches its kube-apiserver for one request. */
export interface UpstreamTarget {
  /** e.g. https://10.96.0.1:443, no trailing slash */
  server: string;
  /** Connection settings (CA, client certificate) and a keep-alive pool shared by all requests. */
  agent: https.Agent;
  /** Headers that carry the credential, e.g. `authorization`. */
  headers: Record<string, string>;
  /** HTTP/2 sessions to the same server, for every request but upgrades, when the apiserver speaks it. */
  h2?: H2Pool;
}

/**
 * The seam through which each request gets its upstream credential: `asPerson` plugs in the person's
 * just-in-time service account.
 */
export interface CredentialProvider {
  forRequest(identity: TunnelIdentity): Promise<UpstreamTarget>;
  /** The agent's own access, for its own calls (version, cluster identity, service accounts). */
  own(): Promise<UpstreamTarget>;
}

/** The agent's own access: the credential of a kubeconfig (--kubeconfig) or of the pod's service account. */
export interface OwnAccess {
  own(): Promise<UpstreamTarget>;
  /**
   * Connection settings that trust the apiserver but present no client certificate, for requests made
   * with someone else's bearer token: the apiserver tries a client certificate before a bearer token, so a
   * pool that carries the agent's certificate would make every person the agent.
   */
  anonymousAgent: https.Agent;
  /** The same, over HTTP/2; `undefined` when turned off. Whether the apiserver speaks it is the pool's
   * `unsupported`, found at start and kept up to date. */
  anonymousH2: H2Pool | undefined;
}

function pool(secureContext: tls.SecureContext, rejectUnauthorized: boolean): https.Agent {
  return new https.Agent({
    keepAlive: true,
    // Watches and streams hold a connection each; the apiserver, not the agent, should set the limit. Idle
    // connections are kept for the next burst instead of being closed and re-handshaken.
    maxSockets: Infinity,
    maxFreeSockets: 1024,
    scheduling: 'lifo',
    secureContext,
    ...(rejectUnauthorized ? {} : { rejectUnauthorized: false }),
  });
}

export async function kubeconfigCredentials(
  kubeconfigPath: string | undefined,
  opts: { http2?: boolean } = {},
): Promise<OwnAccess> {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromCluster();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig names no current cluster');
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  // One TLS context for every connection: building it (parsing the key and certificates) costs more than the
  // handshake itself, and https.Agent would otherwise redo it for each new socket.
  const secureContext = tls.createSecureContext({
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.key ? { key: options.key } : {}),
  });
  const verify = options.rejectUnauthorized !== false;
  const agent = pool(secureContext, verify);
  const anonymousContext = tls.createSecureContext(options.ca ? { ca: options.ca } : {});
  const anonymousAgent = pool(anonymousContext, verify);
  const server = cluster.server.replace(/\/+$/, '');
  const anonymousH2 =
    opts.http2 !== false && server.startsWith('https:')
      ? new H2Pool(server, anonymousContext, { rejectUnauthorized: verify })
      : undefined;
  await anonymousH2?.probe();
  const target: UpstreamTarget = {
    server,
    agent,
    headers: credentialHeaders(options),
  };
  // A pod's service-account token is rotated on disk; read the credential again now and then rather than
  // once, so a long-running agent never presents an expired token.
  let readAt = Date.now();
  const current = async (): Promise<UpstreamTarget> => {
    if (Date.now() - readAt > CREDENTIAL_REREAD_MS) {
      readAt = Date.now();
      const fresh: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(fresh);
      target.headers = credentialHeaders(fresh);
    }
    return target;
  };
  return { own: current, anonymousAgent, anonymousH2 };
}

/** Every request as the person behind it: their just-in-time service account's token, on a pool without the agent's certificate. */
/** Calls to the apiserver with someone else's bearer token: the agent's server, no client certificate. */
export async function withToken(access: OwnAccess, token: string): Promise<UpstreamTarget> {
  const own = await access.own();
  return {
    server: own.server,
    agent: access.anonymousAgent,
    headers: { authorization: `Bearer ${token}` },
    ...(access.anonymousH2 ? { h2: access.anonymousH2 } : {}),
  };
}

export function asPerson(
  access: OwnAccess,
  tokenFor: (identity: TunnelIdentity) => Promise<string>,
): CredentialProvider {
  return {
    own: () => access.own(),
    forRequest: async (identity) => withToken(access, await tokenFor(identity)),
  };
}

const CREDENTIAL_REREAD_MS = 60_000;

function credentialHeaders(options: https.RequestOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = String(value);
  }
  return headers;
}

/**
 * One small request of the agent's own to its kube-apiserver (its identity, its Secret, service accounts),
 * answered in full. A body is sent as a merge patch for PATCH and as JSON otherwise. Gives up after 15 s.
 */
export function upstreamCall(
  target: UpstreamTarget,
  method: string,
  uri: string,
  body?: object,
): Promise<{ status: number; text: string }> {
  const contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  return upstreamSend(target, method, uri, body ? { text: JSON.stringify(body), contentType } : undefined);
}

/** The same with a body already serialized, as the typed API clients hand it over (jit/kube-apis.ts). */
export function upstreamSend(
  target: UpstreamTarget,
  method: string,
  uri: string,
  payload?: { text: string; contentType: string },
): Promise<{ status: number; text: string }> {
  // With a length, never chunked: the apiserver leaves a chunked DELETE body's terminator unread on the
  // kept-alive connection, and the next request on it is then a 400.
  const framing =
    payload === undefined
      ? {}
      : { 'content-type': payload.contentType, 'content-length': Buffer.byteLength(payload.text) };
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${target.server}${uri}`,
      {
        method,
        agent: target.agent,
        headers: { ...target.headers, ...framing },
        timeout: 15_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${uri}: timed out`)));
    req.on('error', reject);
    req.end(payload?.text);
  });
}
