// Passwords come from stdin (`--password-stdin`, for scripts) or from a prompt that does not echo. Never
// from an argument: arguments end up in shell history and in every local user's `ps`. A login's TOTP code
// comes from the same place: the line after the password on stdin, or a prompt.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { isTotpCode } from '@ztka/protocol';
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

/**
 * A login's password and, with `--password-stdin`, a TOTP code on the line after it: stdin is read once,
 * so a script that logs in to an account with TOTP sends both. Stdin is the password as always (less one
 * trailing newline) unless it has a second line of exactly 6 digits, which is then the code.
 */
export async function readLoginSecrets(fromStdin: boolean): Promise<{ password: string; code?: string }> {
  if (!fromStdin) return { password: await readPassword({ fromStdin: false }) };
  const text = await readStdin();
  const split = /^([^\r\n]+)\r?\n([0-9]{6})$/.exec(text);
  const password = split?.[1] ?? text;
  if (password === '') throw new UsageError('the password is empty');
  return split?.[2] === undefined ? { password } : { password, code: split[2] };
}

/** `code` if it has the form of a TOTP code, else a usage error saying what one looks like. */
export function checkTotpCode(code: string): string {
  const trimmed = code.trim();
  if (!isTotpCode(trimmed))
    throw new UsageError('a two-factor code is the 6 digits your authenticator app shows');
  return trimmed;
}

/** A TOTP code from the terminal; without one, `hint` says how to give it instead. */
export async function promptTotpCode(prompt: string, hint: string): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError(hint);
  return checkTotpCode(await promptHidden(prompt));
}
