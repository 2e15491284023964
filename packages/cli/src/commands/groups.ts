// groups list|create|delete|add-member|remove-member
import type { Command } from 'commander';
import type { Group } from '../api.js';
import { outputOption, printList, write, type OutputFormat } from '../output.js';
import { connect, seg, serverOption } from '../session.js';

export function registerGroups(program: Command): void {
  const groups = program.command('groups').description('manage groups and their members (admins)');

  groups
    .command('list')
    .description('list groups')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (opts: { output: OutputFormat; server?: string }) => {
      const { client } = await connect(opts.server);
      const items = await client.listAll<Group>('/v1/groups');
      printList(
        items,
        opts.output,
        [
          { header: 'NAME', value: (g) => g.name },
          { header: 'MEMBERS', value: (g) => (g.members ?? []).join(',') },
        ],
        'groups',
      );
    });

  groups
    .command('create')
    .description('create a group')
    .argument('<name>', 'group name (a DNS-1123 label)')
    .addOption(serverOption())
    .action(async (name: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.json('POST', '/v1/groups', { name });
      write(`Created group ${name}\n`);
    });

  groups
    .command('delete')
    .description('delete a group')
    .argument('<name>', 'group name')
    .addOption(serverOption())
    .action(async (name: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.request('DELETE', `/v1/groups/${seg(name)}`);
      write(`Deleted group ${name}\n`);
    });

  groups
    .command('add-member')
    .description('add a user to a group')
    .argument('<group>', 'group name')
    .argument('<username>', 'the user')
    .addOption(serverOption())
    .action(async (group: string, username: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.request('PUT', `/v1/groups/${seg(group)}/members/${seg(username)}`);
      write(`Added ${username} to group ${group}\n`);
    });

  groups
    .command('remove-member')
    .description('remove a user from a group')
    .argument('<group>', 'group name')
    .argument('<username>', 'the user')
    .addOption(serverOption())
    .action(async (group: string, username: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.request('DELETE', `/v1/groups/${seg(group)}/members/${seg(username)}`);
      write(`Removed ${username} from group ${group}\n`);
    });
}
