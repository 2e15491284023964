// projects list|create|delete
import type { Command } from 'commander';
import type { Project } from '../api.js';
import { age, cell, outputOption, printList, write, type OutputFormat } from '../output.js';
import { connect, seg, serverOption } from '../session.js';

export function registerProjects(program: Command): void {
  const projects = program.command('projects').description('list, create and delete projects');

  projects
    .command('list')
    .description('list the projects you can see')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (opts: { output: OutputFormat; server?: string }) => {
      const { client } = await connect(opts.server);
      const items = await client.listAll<Project>('/v1/projects');
      printList(
        items,
        opts.output,
        [
          { header: 'NAME', value: (p) => p.name },
          { header: 'CLUSTERS', value: (p) => cell(p.clusters) },
          { header: 'CREATED', value: (p) => age(p.createdAt, Date.now(), '-') },
        ],
        'projects',
      );
    });

  projects
    .command('create')
    .description('create a project')
    .argument('<name>', 'project name (a DNS-1123 label)')
    .addOption(serverOption())
    .action(async (name: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.json('POST', '/v1/projects', { name });
      write(`Created project ${name}\n`);
    });

  projects
    .command('delete')
    .description('delete a project (it must have no clusters)')
    .argument('<name>', 'project name')
    .addOption(serverOption())
    .action(async (name: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.request('DELETE', `/v1/projects/${seg(name)}`);
      write(`Deleted project ${name}\n`);
    });
}
