// credentials list|revoke and api-keys create: the user's sessions, keys and kube credentials.
import type { Command } from 'commander';
import type { ApiKey, Credential } from '../api.js';
import { parseDuration } from '../duration.js';
import { CliError, UsageError } from '../errors.js';
import {
  age,
  cell,
  outputOption,
  printList,
  renderData,
  renderFields,
  write,
  type OutputFormat,
} from '../output.js';
import { connect, seg, serverOption } from '../session.js';

export function registerCredentials(program: Command): void {
  const credentials = program.command('credentials').description('list and revoke credentials');

  credentials
    .command('list')
    .description('list your credentials (admins: anyone’s); never shows a secret')
    .option('--user <username>', 'another user’s credentials (admins)')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (opts: { user?: string; output: OutputFormat; server?: string }) => {
      const { client } = await connect(opts.server);
      const now = Date.now();
      printList(
        await client.listAll<Credential>('/v1/credentials', { user: opts.user }),
        opts.output,
        [
          { header: 'ID', value: (c) => cell(c.id) },
          { header: 'KIND', value: (c) => cell(c.kind) },
          { header: 'NAME', value: (c) => cell(c.name) },
          { header: 'CREATED', value: (c) => age(c.createdAt, now, '-') },
          { header: 'EXPIRES', value: (c) => age(c.expiresAt, now) },
          { header: 'LAST USED', value: (c) => age(c.lastUsedAt, now) },
        ],
        'credentials',
      );
    });

  credentials
    .command('revoke')
    .description('revoke a credential at once')
    .argument('<id>', 'credential id, from ztka credentials list')
    .addOption(serverOption())
    .action(async (id: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.request('DELETE', `/v1/credentials/${seg(id)}`);
      write(`Revoked credential ${id}\n`);
    });

  const apiKeys = program.command('api-keys').description('create API keys for scripts');

  apiKeys
    .command('create')
    .description('create an API key; the key is shown once')
    .argument('<name>', 'a name to recognise the key by')
    .option('--validity <duration>', 'how long the key is valid, e.g. 30d (default: the server’s)')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (name: string, opts: { validity?: string; output: OutputFormat; server?: string }) => {
      const body: { name: string; validitySeconds?: number } = { name };
      if (opts.validity !== undefined) {
        try {
          body.validitySeconds = parseDuration(opts.validity);
        } catch (err) {
          throw new UsageError(`--validity: ${(err as Error).message}`);
        }
      }
      const { client } = await connect(opts.server);
      const key = await client.json<ApiKey | undefined>('POST', '/v1/api-keys', body);
      if (typeof key?.key !== 'string')
        throw new CliError(`the server at ${client.server} did not return a key`);
      if (opts.output !== 'table') {
        write(renderData(key, opts.output));
        return;
      }
      write(
        renderFields([
          ['ID', cell(key.id)],
          ['NAME', name],
          ['EXPIRES', cell(key.expiresAt ?? 'never')],
          ['KEY', cell(key.key)],
        ]) + 'Store the key now: it cannot be shown again.\n',
      );
    });
}
