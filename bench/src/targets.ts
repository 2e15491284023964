import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { kubectlEnv, kubectlPath, type TestEnv, type Ztka } from '@ztka/testenv';
import { startPeer } from './peer.js';

/** One way to reach the same kube-apiserver, measured side by side with the others. */
export interface Target {
  name: 'direct' | 'kubectl proxy' | 'ztka' | 'remotedialer' | 'direct as JIT SA';
  /** Base URL the kube API paths are appended to. */
  base: string;
  /** Options for node's http(s).request: TLS material, credential header, a keep-alive pool. */
  options(): https.RequestOptions;
  /** A kubeconfig for kubectl through this target. */
  kubeconfig: string;
  /** The processes this target puts between the client and the apiserver, whose CPU is its cost. */
  processes: Record<string, number | undefined>;
}

export interface Targets {
  all: Target[];
  /**
   * The apiserver directly, but with the token of the service account ztka's agent uses for the same
   * person: it tells the apiserver's cost of authorizing a least-privilege identity (RBAC) apart from the
   * cost of ztka's path, since `direct` is a `system:masters` certificate that skips RBAC.
   */
  directAsJit: Target;
  stop(): Promise<void>;
}

/**
 * The apiserver directly, `kubectl proxy` in front of it, ztka's controller + agent, and the remotedialer
 * peer's server + agent.
 */
export async function openTargets(
  env: TestEnv,
  z: Ztka,
  cluster: string,
  concurrency: number,
  dir: string,
): Promise<Targets> {
  const read = (f: string) => fs.readFile(path.join(env.pkiDir, f));
  const [ca, cert, key] = await Promise.all([read('ca.crt'), read('admin.crt'), read('admin.key')]);
  const pool = () => ({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });

  const directAgent = new https.Agent({ ...pool(), ca, cert, key });
  const ztkaAgent = new https.Agent({ ...pool(), ca: z.ca });
  const proxyAgent = new http.Agent(pool());

  const proxy: ChildProcess = spawn(
    kubectlPath(), // By default kubectl proxy refuses exec and attach; the comparison needs them allowed.
    ['--kubeconfig', env.kubeconfig, 'proxy', '--port=0', '--reject-paths=^$'],
    {
      env: kubectlEnv(),
    },
  );
  const proxyPort = await new Promise<number>((resolve, reject) => {
    let out = '';
    proxy.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = out.match(/Starting to serve on 127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proxy.on('exit', (code) => reject(new Error(`kubectl proxy exited (${code}): ${out}`)));
  });
  const proxyKubeconfig = path.join(dir, 'proxy.kubeconfig');
  await fs.writeFile(
    proxyKubeconfig,
    `apiVersion: v1\nkind: Config\nclusters: [{name: p, cluster: {server: "http://127.0.0.1:${proxyPort}"}}]\n` +
      `users: [{name: p, user: {}}]\ncontexts: [{name: p, context: {cluster: p, user: p}}]\ncurrent-context: p\n`,
  );

  const token = await z.kubeToken(cluster);
  const ztka: Target = {
    name: 'ztka',
    base: `${z.url}/k8s/clusters/${cluster}`,
    options: () => ({ agent: ztkaAgent, headers: { authorization: `Bearer ${token}` } }),
    kubeconfig: await z.kubeconfig(cluster),
    processes: { controller: z.pids().controller, agent: z.pids().agents[cluster] },
  };
  // The first request through ztka creates the person's service account; then borrow a token for it.
  const first = await request(ztka, '/api/v1/namespaces/default');
  if (first.status !== 200) throw new Error(`ztka target: status ${first.status}`);
  const jitNs = z.jitNamespaces.get(cluster)?.namespace ?? 'ztka-system';
  const accounts = (await env.admin(['get', 'serviceaccounts', '-n', jitNs, '-o', 'name']))
    .split('\n')
    .map((l) => l.replace('serviceaccount/', '').trim())
    .filter((n) => n && n !== 'default');
  if (accounts.length !== 1)
    throw new Error(`expected one JIT service account in ${jitNs}: ${accounts.join(', ')}`);
  const jitToken = (
    await env.admin(['create', 'token', accounts[0] ?? '', '-n', jitNs, '--duration=2h'])
  ).trim();
  const jitAgent = new https.Agent({ ...pool(), ca });
  // The peer proxies with the same person's service-account token, so the apiserver does the same work
  // (token review, RBAC) behind both.
  const peer = await startPeer(env, jitToken, dir).catch((err: unknown) => {
    proxy.kill();
    throw err;
  });
  const peerAgent = new https.Agent({ ...pool(), ca });
  const peerKubeconfig = path.join(dir, 'peer.kubeconfig');
  await fs.writeFile(
    peerKubeconfig,
    `apiVersion: v1\nkind: Config\nclusters: [{name: p, cluster: {server: "${peer.url}", ` +
      `certificate-authority: "${path.join(env.pkiDir, 'ca.crt')}"}}]\n` +
      // A credential of some kind, or kubectl exec asks for a username on its stdin; the peer replaces it.
      `users: [{name: p, user: {token: replaced-by-the-peer}}]\n` +
      `contexts: [{name: p, context: {cluster: p, user: p}}]\ncurrent-context: p\n`,
  );
  return {
    directAsJit: {
      name: 'direct as JIT SA',
      base: env.apiserverUrl,
      options: () => ({ agent: jitAgent, headers: { authorization: `Bearer ${jitToken}` } }),
      kubeconfig: '',
      processes: {},
    },
    all: [
      {
        name: 'direct',
        base: env.apiserverUrl,
        options: () => ({ agent: directAgent }),
        kubeconfig: env.kubeconfig,
        processes: {},
      },
      {
        name: 'kubectl proxy',
        base: `http://127.0.0.1:${proxyPort}`,
        options: () => ({ agent: proxyAgent }),
        kubeconfig: proxyKubeconfig,
        processes: { proxy: proxy.pid },
      },
      ztka,
      {
        name: 'remotedialer',
        base: peer.url,
        options: () => ({ agent: peerAgent }),
        kubeconfig: peerKubeconfig,
        processes: peer.pids,
      },
    ],
    stop: async () => {
      proxy.kill();
      peer.stop();
      for (const a of [directAgent, ztkaAgent, proxyAgent, jitAgent, peerAgent]) a.destroy();
    },
  };
}

export interface Reply {
  status: number;
  bytes: number;
}

/** One request, body drained and counted, never kept. */
export function request(target: Target, uri: string, method = 'GET', body?: string): Promise<Reply> {
  const url = `${target.base}${uri}`;
  const client = url.startsWith('https:') ? https : http;
  const base = target.options();
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        ...base,
        method,
        headers: {
          ...(base.headers ?? {}),
          accept: 'application/json',
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
