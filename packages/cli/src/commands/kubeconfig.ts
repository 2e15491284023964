// ztka kubeconfig: a kubeconfig for the clusters the user can reach, built by the controller.
import type { Command } from 'commander';
import YAML from 'yaml';
import { writePrivateFileInPlace } from '../fsutil.js';
import { CliError } from '../errors.js';
import { write } from '../output.js';
import { connect, serverOption } from '../session.js';

/** How many clusters a kubeconfig names; undefined when it cannot be read. */
export function countClusters(kubeconfig: string): number | undefined {
  try {
    const doc: unknown = YAML.parse(kubeconfig);
    const clusters = (doc as { clusters?: unknown } | null)?.clusters;
    return Array.isArray(clusters) ? clusters.length : undefined;
  } catch {
    return undefined;
  }
}

async function kubeconfig(opts: {
  cluster?: string;
  exec?: boolean;
  file?: string;
  server?: string;
}): Promise<void> {
  const { client } = await connect(opts.server);
  const body: { cluster?: string; exec?: boolean } = {};
  if (opts.cluster !== undefined) body.cluster = opts.cluster;
  if (opts.exec === true) body.exec = true;
  const res = await client.request('POST', '/v1/kubeconfig', { body, accept: 'application/yaml' });
  if (opts.file === undefined) {
    write(res.body);
    return;
  }
  // Without --exec the file holds a credential: owner-only, like ~/.kube/config should be.
  try {
    await writePrivateFileInPlace(opts.file, res.body);
  } catch (err) {
    throw new CliError(`cannot write ${opts.file}: ${(err as Error).message}`);
  }
  const count = countClusters(res.body);
  write(
    count === undefined
      ? `Wrote kubeconfig to ${opts.file}\n`
      : `Wrote kubeconfig for ${count} cluster(s) to ${opts.file}\n`,
  );
}

export function registerKubeconfig(program: Command): void {
  program
    .command('kubeconfig')
    .description('get a kubeconfig for your clusters')
    .option('--cluster <name>', 'only this cluster (default: every cluster you can reach)')
    .option('--exec', 'use `ztka token` for credentials instead of embedding one')
    .option('-f, --file <file>', 'write to this file (mode 0600) instead of stdout')
    .addOption(serverOption())
    .action(kubeconfig);
}
