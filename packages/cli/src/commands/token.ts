// `ztka token`: kubectl's exec-credential plugin. The work is in exec-plugin.ts, which main.ts also runs
// without the full program; this registers it for help and for command lines the fast path leaves.
import type { Command } from 'commander';
import { printExecCredential } from '../exec-plugin.js';
import { serverOption } from '../session.js';

export function registerToken(program: Command): void {
  program
    .command('token')
    .description('print a kube API token as an ExecCredential (the kubectl exec plugin)')
    .requiredOption('--cluster <name>', 'the cluster the token is for')
    .addOption(serverOption())
    .action(printExecCredential);
}
