// kubectl's exec-credential plugin. stdout carries exactly the ExecCredential; anything else would break
// kubectl's parsing, so failures go to stderr only (kubectl shows it).
import type { Command } from 'commander';
import { clusterToken, execCredential, execInfoApiVersion } from '../exec-credential.js';
import { write } from '../output.js';
import { connect, serverOption } from '../session.js';

async function token(opts: { cluster: string; server?: string }): Promise<void> {
  const apiVersion = execInfoApiVersion(process.env['KUBERNETES_EXEC_INFO']);
  const { login, client } = await connect(opts.server);
  const { token, expiresAt } = await clusterToken(client, login.apiKeyId, opts.cluster);
  write(`${execCredential(apiVersion, token, expiresAt)}\n`);
}

export function registerToken(program: Command): void {
  program
    .command('token')
    .description('print a kube API token as an ExecCredential (the kubectl exec plugin)')
    .requiredOption('--cluster <name>', 'the cluster the token is for')
    .addOption(serverOption())
    .action(token);
}
