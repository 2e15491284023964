// kubectl's exec-credential plugin (`ztka token`). kubectl runs it before nearly every command, so its
// start-up is paid on each kubectl call: this path loads only what a token needs (no command-line framework,
// no YAML). stdout carries exactly the ExecCredential, anything else would break kubectl's parsing, so
// failures go to stderr only (kubectl shows them).
import { parseArgs } from 'node:util';
import { connect } from './connect.js';
import { reportError } from './errors.js';
import { clusterToken, execCredential, execInfoApiVersion } from './exec-credential.js';

export interface TokenOptions {
  cluster: string;
  server?: string | undefined;
}

/** Prints the ExecCredential for `opts.cluster`, from the token cache while fresh. */
export async function printExecCredential(opts: TokenOptions): Promise<void> {
  const apiVersion = execInfoApiVersion(process.env['KUBERNETES_EXEC_INFO']);
  const { login, client } = await connect(opts.server);
  const { token, expiresAt } = await clusterToken(client, login.apiKeyId, opts.cluster);
  process.stdout.write(`${execCredential(apiVersion, token, expiresAt)}\n`);
}

/**
 * `ztka token --cluster NAME [--server URL]` without the full program; the exit code, or undefined for any
 * other command line (help, a wrong flag), which the full program then answers as usual.
 */
export async function runExecPlugin(args: string[]): Promise<number | undefined> {
  let values: { cluster?: string | undefined; server?: string | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: { cluster: { type: 'string' }, server: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch {
    return undefined;
  }
  if (values.cluster === undefined) return undefined;
  try {
    await printExecCredential({ cluster: values.cluster, server: values.server });
    return 0;
  } catch (err) {
    return reportError(err);
  }
}
