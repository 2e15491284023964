// totp enrol|confirm|remove: a person's own TOTP second factor. Enrolling shows the seed once, as the
// otpauth URI authenticator apps read and as the bare secret for typing in, and is pending until a code
// from the app confirms it. `enrol` is also how a login continues when the org requires TOTP of someone who
// has none yet: then it runs with the enrolment token the login was handed instead of an API key.
import type { Command } from 'commander';
import type { TotpEnrolment } from '../api.js';
import type { Client } from '../client.js';
import { cell, write } from '../output.js';
import { checkTotpCode, promptTotpCode } from '../password.js';
import { connect, serverOption } from '../session.js';

/** Starts an enrolment and prints what the app needs; `out` is stderr when a login is under way. */
export async function beginEnrolment(client: Client, out: (text: string) => void): Promise<void> {
  const enrolment = await client.json<TotpEnrolment>('POST', '/v1/auth/totp');
  out(
    [
      'Add this account to your authenticator app (its QR scanner reads the URI too):',
      '',
      `  URI:    ${cell(enrolment.uri)}`,
      `  Secret: ${cell(enrolment.secret)}`,
      '',
      '',
    ].join('\n'),
  );
}

export async function confirmEnrolment(client: Client, code: string): Promise<void> {
  await client.request('POST', '/v1/auth/totp/confirm', { body: { code } });
}

/** Enrols at the terminal: the seed, then a code from the app to confirm it. */
export async function enrolInteractively(client: Client, out: (text: string) => void): Promise<void> {
  await beginEnrolment(client, out);
  await confirmEnrolment(
    client,
    await promptTotpCode(
      'Code from your app: ',
      'enrolling needs a terminal to type a code in; or run ztka totp enrol, then ztka totp confirm CODE',
    ),
  );
}

export function registerTotp(program: Command): void {
  const totp = program
    .command('totp')
    .description('your two-factor authentication (TOTP) for password logins');

  totp
    .command('enrol')
    .description('set up an authenticator app: shows its seed, then asks for a code to turn it on')
    .addOption(serverOption())
    .action(async (opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      if (!process.stdin.isTTY) {
        await beginEnrolment(client, write);
        write('Then turn it on with: ztka totp confirm CODE\n');
        return;
      }
      await enrolInteractively(client, write);
      write('Two-factor authentication is on: log in with a code from your app from now on\n');
    });

  totp
    .command('confirm')
    .description('turn on a pending enrolment with a code from your authenticator app')
    .argument('<code>', 'the 6-digit code the app shows')
    .addOption(serverOption())
    .action(async (code: string, opts: { server?: string }) => {
      const checked = checkTotpCode(code);
      const { client } = await connect(opts.server);
      await confirmEnrolment(client, checked);
      write('Two-factor authentication is on: log in with a code from your app from now on\n');
    });

  totp
    .command('remove')
    .description('turn your two-factor authentication off; needs a current code')
    .option('--code <code>', 'a current code (asked for when in a terminal)')
    .addOption(serverOption())
    .action(async (opts: { code?: string; server?: string }) => {
      const code =
        opts.code === undefined
          ? await promptTotpCode(
              'Current code: ',
              'no code: pass --code CODE, or run in a terminal to be asked',
            )
          : checkTotpCode(opts.code);
      const { client } = await connect(opts.server);
      await client.request('DELETE', '/v1/auth/totp', { body: { code } });
      write('Two-factor authentication is off\n');
    });
}
