// Passwords come from stdin (`--password-stdin`, for scripts) or from a prompt that does not echo. Never
// from an argument: arguments end up in shell history and in every local user's `ps`.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError, UsageError } from './errors.js';

/** All of stdin, less one trailing newline (the one `echo` and here-strings add). */
export async function readStdin(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks on the terminal with echo off. The prompt goes to stderr so stdout stays clean for pipes. */
export function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    const output = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        if (!muted) process.stderr.write(chunk);
        callback();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    let answered = false;
    // Raw mode turns Ctrl-C into a keypress; treat it as the user giving up (exit 130, as for SIGINT).
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      if (!answered) {
        process.stderr.write('\n');
        reject(new CliError('cancelled', 130));
      }
    });
    process.stderr.write(prompt);
    muted = true;
    rl.question('', (answer) => {
      answered = true;
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/**
 * The password for a command: stdin with `--password-stdin`, else a prompt when there is a terminal.
 * `confirm` asks twice, for setting a password where a typo would lock the user out.
 */
export async function readPassword(options: { fromStdin: boolean; confirm?: boolean }): Promise<string> {
  let password: string;
  if (options.fromStdin) {
    password = await readStdin();
  } else if (process.stdin.isTTY) {
    password = await promptHidden('Password: ');
    if (options.confirm === true && password !== '') {
      const again = await promptHidden('Confirm password: ');
      if (again !== password) throw new CliError('the passwords do not match');
    }
  } else {
    throw new UsageError('no password: pass --password-stdin, or run in a terminal to be asked');
  }
  if (password === '') throw new UsageError('the password is empty');
  return password;
}
