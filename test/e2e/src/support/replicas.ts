// Helpers for tests with several controller replicas on one database.
import fs from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type { Ztka } from '@ztka/testenv';

/**
 * A kubeconfig of `apiKey`'s person for `cluster`, made by replica `from`, pointed at replica `to` (its URL
 * and CA: each test replica has its own serving certificate, where a deployment's replicas share one).
 */
export async function kubeconfigVia(from: Ztka, to: Ztka, cluster: string, apiKey: string): Promise<string> {
  const file = await from.kubeconfig(cluster, apiKey);
  const doc = YAML.parse(await fs.readFile(file, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  };
  for (const c of doc.clusters) {
    c.cluster.server = c.cluster.server.replace(from.url, to.url);
    c.cluster['certificate-authority-data'] = Buffer.from(to.ca).toString('base64');
  }
  const out = path.join(to.dir, `via-${path.basename(file)}`);
  await fs.writeFile(out, YAML.stringify(doc), { mode: 0o600 });
  return out;
}
