// The full `ztka` program: commander, and the one place that turns errors into `ztka: <message>` and an
// exit code. The commands themselves live in commands/.
import { Command, type CommanderError } from 'commander';
import { PRODUCT_VERSION } from '@ztka/protocol';
import { registerAudit } from './commands/audit.js';
import { registerAuth } from './commands/auth.js';
import { registerClusters } from './commands/clusters.js';
import { registerCredentials } from './commands/credentials.js';
import { registerGroups } from './commands/groups.js';
import { registerKubeconfig } from './commands/kubeconfig.js';
import { registerProjects } from './commands/projects.js';
import { registerRoles } from './commands/roles.js';
import { registerSettings } from './commands/settings.js';
import { registerSso } from './commands/sso.js';
import { registerToken } from './commands/token.js';
import { registerTotp } from './commands/totp.js';
import { registerUsers } from './commands/users.js';
import { CliError, EXIT_USAGE, reportError, UsageError, usageMessage } from './errors.js';

/** A commander exit (help shown, usage error) with the command it happened in, for the message. */
class CommandLineExit extends Error {
  constructor(
    readonly error: CommanderError,
    readonly command: Command,
  ) {
    super(error.message);
  }
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

// Commander would print its messages and call process.exit; every command throws instead, so that errors
// take one path and pending output is flushed.
function throwOnExit(command: Command): void {
  command.exitOverride((error) => {
    throw new CommandLineExit(error, command);
  });
  command.commands.forEach(throwOnExit);
}

function buildProgram(): Command {
  const program = new Command('ztka')
    .description('ztka: zero-trust kubectl access from the command line')
    .version(`ztka ${PRODUCT_VERSION}`, '-V, --version', 'print the ztka version')
    // Help goes to stdout when asked for; usage errors are reported as one line by report().
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .addHelpText(
      'after',
      '\nThe login is stored in $ZTKA_CLI_CONFIG, else $XDG_CONFIG_HOME/ztka/config.json (~/.config/ztka/config.json).',
    );
  program
    .command('version')
    .description('print the ztka version')
    .action(() => {
      process.stdout.write(`ztka ${PRODUCT_VERSION}\n`);
    });
  // Commander's implicit help command would answer `ztka help frob` with the top-level usage error.
  program
    .command('help')
    .description('show help for ztka or one of its commands')
    .argument('[command...]', 'the command, e.g. clusters list')
    .action((names: string[]) => {
      let command = program;
      for (const name of names) {
        const sub = command.commands.find((c) => c.name() === name);
        if (sub === undefined) throw new UsageError(`unknown command "${names.join(' ')}" (see ztka --help)`);
        command = sub;
      }
      command.outputHelp();
    });
  registerAuth(program);
  registerTotp(program);
  registerProjects(program);
  registerClusters(program);
  registerUsers(program);
  registerGroups(program);
  registerRoles(program);
  registerCredentials(program);
  registerKubeconfig(program);
  registerToken(program);
  registerSettings(program);
  registerSso(program);
  registerAudit(program);
  throwOnExit(program);
  return program;
}

/** The exit code for `err`, after printing its one line to stderr. */
function report(err: unknown): number {
  if (!(err instanceof CommandLineExit)) return reportError(err);
  const { error, command } = err;
  if (error.exitCode === 0) return 0; // help or version, already printed
  const path = commandPath(command);
  const message =
    error.code === 'commander.help'
      ? `missing command: ${path} ${command.commands.map((c) => c.name()).join('|')}`
      : `${usageMessage(error.message)} (see ${path} --help)`;
  return reportError(new CliError(message, EXIT_USAGE));
}

export async function main(argv: string[]): Promise<number> {
  // `ztka | head` closes the pipe early; that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    return report(err);
  }
}
