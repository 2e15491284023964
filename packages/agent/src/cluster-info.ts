import { upstreamCall, type UpstreamTarget } from './upstream.js';

async function getJson<T>(target: UpstreamTarget, path: string): Promise<T> {
  const res = await upstreamCall(target, 'GET', path);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text.slice(0, 200)}`);
  return JSON.parse(res.text) as T;
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
