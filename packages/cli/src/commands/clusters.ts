// clusters list|create|delete|bootstrap
import type { Command } from 'commander';
import type { Cluster, CreatedCluster } from '../api.js';
import { age, cell, outputOption, printList, renderData, write, type OutputFormat } from '../output.js';
import { connect, seg, serverOption } from '../session.js';

export const CLUSTER_COLUMNS = [
  { header: 'NAME', value: (c: Cluster) => c.name },
  { header: 'PROJECT', value: (c: Cluster) => cell(c.project) },
  { header: 'STATUS', value: (c: Cluster) => (c.connected === true ? 'connected' : 'disconnected') },
  { header: 'KUBERNETES', value: (c: Cluster) => cell(c.kubeVersion) },
  { header: 'AGENT', value: (c: Cluster) => cell(c.agentVersion) },
  { header: 'LAST SEEN', value: (c: Cluster) => age(c.lastSeenAt) },
];

function bootstrapTokenOf(created: CreatedCluster): { token?: string; expiresAt?: string } {
  const t = created.bootstrapToken;
  if (typeof t === 'string') return { token: t };
  const out: { token?: string; expiresAt?: string } = {};
  if (typeof t?.token === 'string') out.token = t.token;
  if (typeof t?.expiresAt === 'string') out.expiresAt = t.expiresAt;
  return out;
}

export function registerClusters(program: Command): void {
  const clusters = program.command('clusters').description('list, create, delete and bootstrap clusters');

  clusters
    .command('list')
    .description('list the clusters you can reach')
    .option('--project <project>', 'only the clusters of this project')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (opts: { project?: string; output: OutputFormat; server?: string }) => {
      const { client } = await connect(opts.server);
      const items = await client.listAll<Cluster>('/v1/clusters', { project: opts.project });
      printList(items, opts.output, CLUSTER_COLUMNS, 'clusters');
    });

  clusters
    .command('create')
    .description('register a cluster and get the bootstrap token for its agent')
    .argument('<name>', 'cluster name (a DNS-1123 label)')
    .requiredOption('--project <project>', 'the project the cluster belongs to')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (name: string, opts: { project: string; output: OutputFormat; server?: string }) => {
      const { client } = await connect(opts.server);
      const created = await client.json<CreatedCluster>('POST', '/v1/clusters', {
        name,
        project: opts.project,
      });
      if (opts.output !== 'table') {
        write(renderData(created, opts.output));
        return;
      }
      const { token, expiresAt } = bootstrapTokenOf(created ?? {});
      let text = `Created cluster ${name} in project ${opts.project}\n`;
      if (token !== undefined) {
        const expiry = expiresAt === undefined ? '' : `, expires ${cell(expiresAt)}`;
        text += `Bootstrap token (single use${expiry}): ${cell(token)}\n`;
      }
      // The manifest URL needs authentication, so `kubectl apply -f <url>` cannot fetch it; ztka can.
      text += `Install the agent with: ztka clusters bootstrap ${name} | kubectl apply -f -\n`;
      write(text);
    });

  clusters
    .command('delete')
    .description("delete a cluster, closing its tunnel and revoking its agent's credential")
    .argument('<name>', 'cluster name')
    .addOption(serverOption())
    .action(async (name: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.request('DELETE', `/v1/clusters/${seg(name)}`);
      write(`Deleted cluster ${name}\n`);
    });

  clusters
    .command('bootstrap')
    .description("print the agent's manifest, with a fresh single-use bootstrap token")
    .argument('<name>', 'cluster name')
    .addOption(serverOption())
    .action(async (name: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      const res = await client.request('GET', `/v1/clusters/${seg(name)}/bootstrap.yaml`, {
        accept: 'application/yaml',
      });
      write(res.body);
    });
}
