// users list|create|disable|enable|reset-totp|delete|set-password
import type { Command } from 'commander';
import type { User } from '../api.js';
import { age, cell, outputOption, printList, write, type OutputFormat } from '../output.js';
import { readPassword, readStdin } from '../password.js';
import { UsageError } from '../errors.js';
import { connect, seg, serverOption } from '../session.js';

const USER_COLUMNS = [
  { header: 'USERNAME', value: (u: User) => u.username },
  {
    header: 'STATUS',
    value: (u: User) =>
      u.disabled === true ? 'disabled' : u.hasPassword === false ? 'no password' : 'active',
  },
  { header: 'TOTP', value: (u: User) => cell(u.totp) },
  { header: 'GROUPS', value: (u: User) => (u.groups ?? []).join(',') },
  { header: 'CREATED', value: (u: User) => age(u.createdAt, Date.now(), '-') },
];

/** A simple action on one user: POST or DELETE, then a one-line confirmation. */
function userAction(
  users: Command,
  name: string,
  description: string,
  request: (user: string) => [method: string, path: string],
  done: (user: string) => string,
): void {
  users
    .command(name)
    .description(description)
    .argument('<username>', 'the user')
    .addOption(serverOption())
    .action(async (username: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      const [method, path] = request(username);
      await client.request(method, path);
      write(`${done(username)}\n`);
    });
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('manage users (admins)');

  users
    .command('list')
    .description('list users')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (opts: { output: OutputFormat; server?: string }) => {
      const { client } = await connect(opts.server);
      printList(await client.listAll<User>('/v1/users'), opts.output, USER_COLUMNS, 'users');
    });

  users
    .command('create')
    .description('create a user; without a password they cannot log in until one is set')
    .argument('<username>', 'email or plain name')
    .option('--password-stdin', 'read the initial password from stdin')
    .addOption(serverOption())
    .action(async (username: string, opts: { passwordStdin?: boolean; server?: string }) => {
      const { client } = await connect(opts.server);
      const body: { username: string; password?: string } = { username };
      if (opts.passwordStdin === true) {
        const password = await readStdin();
        if (password === '') throw new UsageError('the password is empty');
        body.password = password;
      }
      const created = await client.json<Partial<User> | undefined>('POST', '/v1/users', body);
      const name = typeof created?.username === 'string' ? cell(created.username) : username;
      write(`Created user ${name}${body.password === undefined ? ' (no password yet)' : ''}\n`);
    });

  userAction(
    users,
    'disable',
    'disable a user, ending all their credentials at once',
    (u) => ['POST', `/v1/users/${seg(u)}/disable`],
    (u) => `Disabled user ${u}`,
  );
  userAction(
    users,
    'enable',
    'enable a disabled user',
    (u) => ['POST', `/v1/users/${seg(u)}/enable`],
    (u) => `Enabled user ${u}`,
  );
  userAction(
    users,
    'reset-totp',
    "remove a user's two-factor authentication (a lost device); they log in with their password alone, or enrol again if the org requires it",
    (u) => ['DELETE', `/v1/users/${seg(u)}/totp`],
    (u) => `Reset the two-factor authentication of ${u}`,
  );
  userAction(
    users,
    'delete',
    'delete a user with their credentials and role assignments',
    (u) => ['DELETE', `/v1/users/${seg(u)}`],
    (u) => `Deleted user ${u}`,
  );

  users
    .command('set-password')
    .description("set a user's password (admins, or yourself); revokes every credential the user holds")
    .argument('<username>', 'the user')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .addOption(serverOption())
    .action(async (username: string, opts: { passwordStdin?: boolean; server?: string }) => {
      const { client, login } = await connect(opts.server);
      const password = await readPassword({ fromStdin: opts.passwordStdin === true, confirm: true });
      await client.request('PUT', `/v1/users/${seg(username)}/password`, { body: { password } });
      // The controller revoked every credential of the user, this CLI's own key too when it was theirs.
      write(
        username.toLowerCase() === login.username.toLowerCase()
          ? `Set your password; every credential you held is revoked: log in again with ztka login\n`
          : `Set the password of ${username}; every credential they held is revoked\n`,
      );
    });
}
