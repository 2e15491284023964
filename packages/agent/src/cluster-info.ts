import type { ClientRequest } from 'node:http';
import https from 'node:https';
import type { UpstreamTarget } from './upstream.js';

async function getJson<T>(target: UpstreamTarget, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    https
      .get(
        `${target.server}${path}`,
        { agent: target.agent, headers: target.headers, timeout: 10_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => {
            if (res.statusCode !== 200)
              reject(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 200)}`));
            else resolve(JSON.parse(body) as T);
          });
        },
      )
      .on('error', reject)
      .on('timeout', function (this: ClientRequest) {
        this.destroy(new Error(`GET ${path}: timed out`));
      });
  });
}

/** The cluster's Kubernetes version and identity (the UID of kube-system, which lives as long as the cluster). */
export async function clusterInfo(
  target: UpstreamTarget,
): Promise<{ kubeVersion: string; identity: string }> {
  const [version, ns] = await Promise.all([
    getJson<{ gitVersion: string }>(target, '/version'),
    getJson<{ metadata: { uid: string } }>(target, '/api/v1/namespaces/kube-system'),
  ]);
  return { kubeVersion: version.gitVersion, identity: ns.metadata.uid };
}
