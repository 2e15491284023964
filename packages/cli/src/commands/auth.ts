// login, logout, whoami: getting an API key, giving it back, and seeing what it may do. A login asks for a
// TOTP code when the account has one, and walks the person through enrolling when the org requires it.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { Command } from 'commander';
import { describeAssignment, type LoginAnswer, type Whoami } from '../api.js';
import { ApiError, Client } from '../client.js';
import { normalizeServer, readConfig, requireLogin, writeConfig, type StoredConfig } from '../config.js';
import { CliError, UsageError } from '../errors.js';
import { forgetTokens } from '../exec-credential.js';
import { cell, outputOption, renderData, renderFields, write, type OutputFormat } from '../output.js';
import { checkTotpCode, promptTotpCode, readLoginSecrets } from '../password.js';
import { connect, serverOption } from '../session.js';
import { browserLogin, chooseProvider, deviceLogin } from '../sso-login.js';
import { enrolInteractively } from './totp.js';

// Revoking the key a new login replaces is a courtesy; it must not hold the new login up for long.
const REVOKE_OLD_KEY_TIMEOUT_MS = 5_000;

async function readCaFile(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --ca-file ${file}: ${(err as Error).message}`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new UsageError(`--ca-file ${file} does not hold a PEM certificate`);
  }
  return pem;
}

/** Where a login's prompts and enrolment instructions go: stdout stays for the result. */
const say = (text: string) => process.stderr.write(text);

async function login(opts: {
  server: string;
  username?: string;
  passwordStdin?: boolean;
  totp?: string;
  caFile?: string;
  sso?: boolean;
  provider?: string;
  device?: boolean;
  browser?: boolean;
}): Promise<void> {
  const server = normalizeServer(opts.server);
  const ca = opts.caFile === undefined ? undefined : await readCaFile(opts.caFile);
  const flagCode = opts.totp === undefined ? undefined : checkTotpCode(opts.totp);
  const previous = await readConfig();
  const keyName = `ztka-cli@${os.hostname()}`;
  const sso = opts.sso === true || opts.provider !== undefined || opts.device === true;
  let answer: LoginAnswer;
  if (sso) {
    if (opts.username !== undefined || opts.passwordStdin === true || opts.totp !== undefined)
      throw new UsageError(
        '--sso logs in through the identity provider: drop --username, --password-stdin and --totp',
      );
    // A device-flow poll waits at the controller for the person; give it room.
    const client = new Client({ server, ca, timeoutMs: 60_000 });
    const provider = await chooseProvider(client, opts.provider);
    answer =
      opts.device === true
        ? await deviceLogin(client, provider, { keyName })
        : await browserLogin(client, provider, { keyName, openBrowser: opts.browser !== false });
  } else {
    if (opts.username === undefined) throw new UsageError('give --username, or log in with --sso');
    answer = await passwordLogin({
      server,
      ca,
      username: opts.username,
      keyName,
      flagCode,
      passwordStdin: opts.passwordStdin === true,
    });
  }
  await saveLogin({ server, ca, previous, answer, username: opts.username });
}

/** A local account's login: the password, then a two-factor code or enrolment when the account needs one. */
async function passwordLogin(opts: {
  server: string;
  ca: string | undefined;
  username: string;
  keyName: string;
  flagCode: string | undefined;
  passwordStdin: boolean;
}): Promise<LoginAnswer> {
  const { server, ca, flagCode } = opts;
  const secrets = await readLoginSecrets(opts.passwordStdin);
  const client = new Client({ server, ca });
  const attempt = (totp: string | undefined) =>
    client.json<LoginAnswer>('POST', '/v1/auth/login', {
      username: opts.username,
      password: secrets.password,
      client: 'cli',
      keyName: opts.keyName,
      ...(totp === undefined ? {} : { totp }),
    });
  const askCode = (prompt: string) =>
    secrets.code ??
    promptTotpCode(
      prompt,
      'this account requires a two-factor code: pass --totp CODE, or send it on the line after the password with --password-stdin',
    );
  let answer: LoginAnswer;
  try {
    answer = await attempt(flagCode ?? secrets.code);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.code === 'totp_required') {
      answer = await attempt(await askCode('Two-factor code: '));
    } else if (err.code === 'totp_enrolment_required' && err.enrolment !== undefined) {
      await enrolForLogin(server, ca, err.enrolment.enrolmentToken, err.message);
      answer = await attempt(await askCode('Next code from your app (not the one just used): '));
    } else throw err;
  }
  return answer;
}

/** Stores the API key a login returned, and gives back the one it replaces. */
async function saveLogin(opts: {
  server: string;
  ca: string | undefined;
  previous: StoredConfig | undefined;
  answer: LoginAnswer;
  username: string | undefined;
}): Promise<void> {
  const { server, ca, previous, answer } = opts;
  const key = answer?.apiKey;
  if (
    typeof key?.key !== 'string' ||
    key.key === '' ||
    (typeof key.id !== 'string' && typeof key.id !== 'number')
  ) {
    throw new CliError(`the server at ${server} did not return an API key`);
  }
  const user = typeof answer.user === 'string' ? answer.user : answer.user?.username;
  const username = typeof user === 'string' && user !== '' ? user : opts.username;
  if (username === undefined) throw new CliError(`the server at ${server} did not say who logged in`);

  const config: StoredConfig = { server, username, apiKey: key.key, apiKeyId: String(key.id) };
  if (ca !== undefined) config.ca = ca;
  await writeConfig(config);

  // The replaced key would otherwise stay valid, unused, until it expires.
  if (previous?.apiKey !== undefined && previous.server === server && previous.apiKey !== key.key) {
    await new Client({
      server,
      ca: previous.ca,
      apiKey: previous.apiKey,
      timeoutMs: REVOKE_OLD_KEY_TIMEOUT_MS,
    })
      .request('POST', '/v1/auth/logout')
      .catch(() => undefined);
    if (previous.apiKeyId !== undefined) await forgetTokens(previous.apiKeyId).catch(() => undefined);
  }
  write(`Logged in to ${server} as ${username}\n`);
}

async function logout(opts: { server?: string }): Promise<void> {
  const login = await requireLogin(opts.server);
  try {
    await new Client({ server: login.server, ca: login.ca, apiKey: login.apiKey }).request(
      'POST',
      '/v1/auth/logout',
    );
  } catch (err) {
    // 401: the key is already expired or revoked, which is what logout wants.
    if (!(err instanceof ApiError && err.status === 401)) throw err;
  }
  const config: StoredConfig = { server: login.server, username: login.username };
  if (login.ca !== undefined) config.ca = login.ca;
  await writeConfig(config);
  await forgetTokens(login.apiKeyId);
  write('Logged out\n');
}

async function whoami(opts: { output: OutputFormat; server?: string }): Promise<void> {
  const { client } = await connect(opts.server);
  const me = await client.json<Whoami>('GET', '/v1/auth/whoami');
  if (opts.output !== 'table') {
    write(renderData(me, opts.output));
    return;
  }
  const fields: [string, string | string[]][] = [
    ['USERNAME', cell(me.username)],
    ['ORG', cell(me.org)],
    ['ROLES', (me.roles ?? []).map(describeAssignment)],
  ];
  if (me.totp !== undefined) fields.push(['TOTP', cell(me.totp)]);
  if (me.credential?.kind !== undefined) {
    fields.push(['CREDENTIAL', `${me.credential.kind} ${me.credential.id ?? ''}`.trim()]);
  }
  write(renderFields(fields));
}

/** A login the org holds back until the person enrols in TOTP: enrol now, at the terminal. */
async function enrolForLogin(
  server: string,
  ca: string | undefined,
  enrolmentToken: string,
  why: string,
): Promise<void> {
  if (!process.stdin.isTTY)
    throw new CliError(`${why}; run ztka login in a terminal to enrol, or enrol in the console`);
  say(`${why}.\n\n`);
  await enrolInteractively(new Client({ server, ca, apiKey: enrolmentToken }), say);
  say('Two-factor authentication is on. Wait for your app to show a new code to log in with.\n');
}

export function registerAuth(program: Command): void {
  program
    .command('login')
    .description('sign in to a controller and store an API key')
    .requiredOption('--server <url>', 'controller URL, https://host[:port]')
    .option('--username <name>', 'your username or email (a local account)')
    .option(
      '--password-stdin',
      'read the password from stdin instead of asking (a two-factor code may follow on the next line)',
    )
    .option('--totp <code>', 'the 6-digit code of your authenticator app (asked for when needed)')
    .option('--sso', "log in through the organization's identity provider (single sign-on)")
    .option('--provider <name>', 'the single sign-on provider (default: the only one); implies --sso')
    .option('--device', 'single sign-on without a browser here: enter a code on any device; implies --sso')
    .option('--no-browser', 'print the single sign-on link instead of opening a browser')
    .option('--ca-file <file>', 'PEM CA certificate to trust for this controller (default: system trust)')
    .action(login);

  program
    .command('logout')
    .description('revoke the stored API key and remove it')
    .addOption(serverOption())
    .action(logout);

  program
    .command('whoami')
    .description('show your user, org and role assignments')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(whoami);
}
