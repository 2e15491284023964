// sso list|add|set|remove: the organization's single sign-on providers (admins). The client secret is read
// from stdin or a file, never from the command line where other users and shell history would see it.
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { SsoProviderView } from '@ztka/protocol';
import { UsageError } from '../errors.js';
import { outputOption, printList, renderData, write, type OutputFormat } from '../output.js';
import { readStdin } from '../password.js';
import { connect, seg, serverOption } from '../session.js';
import { formatDuration, parseDuration } from '../duration.js';

type SsoProvider = SsoProviderView;

interface ProviderOptions {
  displayName?: string;
  issuer?: string;
  clientId?: string;
  clientSecretStdin?: boolean;
  clientSecretFile?: string;
  scopes?: string;
  usernameClaim?: string;
  emailClaim?: string;
  groupsClaim?: string;
  allowedDomains?: string;
  mapGroup?: string[];
  groupsByName?: boolean;
  caFile?: string;
  maxSession?: string;
  deviceFlow?: boolean;
  server?: string;
  output: OutputFormat;
}

const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** `--map-group provider-group=ztka-group`, repeatable. */
function mapping(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.lastIndexOf('=');
    if (eq <= 0 || eq === entry.length - 1)
      throw new UsageError(`--map-group "${entry}": use PROVIDER_GROUP=ZTKA_GROUP`);
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

async function body(opts: ProviderOptions): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  if (opts.displayName !== undefined) out['displayName'] = opts.displayName;
  if (opts.issuer !== undefined) out['issuer'] = opts.issuer;
  if (opts.clientId !== undefined) out['clientId'] = opts.clientId;
  if (opts.clientSecretStdin && opts.clientSecretFile !== undefined)
    throw new UsageError('give --client-secret-stdin or --client-secret-file, not both');
  if (opts.clientSecretStdin) out['clientSecret'] = (await readStdin()).trim();
  if (opts.clientSecretFile !== undefined)
    out['clientSecret'] = (await readFile(opts.clientSecretFile, 'utf8')).trim();
  if (opts.scopes !== undefined) out['scopes'] = list(opts.scopes);
  if (opts.usernameClaim !== undefined) out['usernameClaim'] = opts.usernameClaim;
  if (opts.emailClaim !== undefined) out['emailClaim'] = opts.emailClaim;
  if (opts.groupsClaim !== undefined) out['groupsClaim'] = opts.groupsClaim;
  if (opts.allowedDomains !== undefined) out['allowedDomains'] = list(opts.allowedDomains);
  if (opts.mapGroup !== undefined) out['groupMapping'] = mapping(opts.mapGroup);
  if (opts.groupsByName !== undefined) out['groupsByName'] = opts.groupsByName;
  if (opts.caFile !== undefined)
    out['caPem'] = opts.caFile === '' ? null : await readFile(opts.caFile, 'utf8');
  if (opts.maxSession !== undefined) out['maxSessionSeconds'] = parseDuration(opts.maxSession);
  if (opts.deviceFlow !== undefined) out['deviceFlow'] = opts.deviceFlow;
  return out;
}

function providerOptions(command: Command): Command {
  return command
    .option('--display-name <text>', 'the name on the login page')
    .option('--issuer <url>', "the provider's issuer URL (https)")
    .option('--client-id <id>', 'the client id ztka has at the provider')
    .option('--client-secret-stdin', 'read the client secret from stdin')
    .option('--client-secret-file <file>', 'read the client secret from a file')
    .option('--scopes <list>', 'scopes to ask for (default: openid email profile)')
    .option('--username-claim <claim>', 'the claim that names the person in ztka (default: email)')
    .option('--email-claim <claim>', 'the claim holding the email (default: email)')
    .option('--groups-claim <claim>', 'the claim holding the groups (default: groups)')
    .option('--allowed-domains <list>', 'email domains that may log in (default: any)')
    .addOption(
      new Option('--map-group <mapping>', 'PROVIDER_GROUP=ZTKA_GROUP, repeatable').argParser(
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      ),
    )
    .option(
      '--groups-by-name',
      'provider groups also grant the ztka group of the same name, unless it holds an org-wide role',
    )
    .option('--no-groups-by-name', 'only --map-group entries grant groups (default)')
    .option('--device-flow', 'let the CLI log in with the device flow (it can be phished: off by default)')
    .option('--no-device-flow', 'turn the device flow off')
    .option('--ca-file <file>', 'PEM CA to trust for this issuer ("" to trust the system only)')
    .option('--max-session <duration>', 'longest a login lasts, e.g. 12h (default 12h)')
    .addOption(serverOption())
    .addOption(outputOption());
}

function show(provider: SsoProvider, output: OutputFormat): void {
  if (output !== 'table') {
    write(renderData(provider, output));
    return;
  }
  write(
    `Provider ${provider.name} (${provider.displayName}) at ${provider.issuer}\n` +
      `Register this redirect URI at the provider: ${provider.redirectUri}\n`,
  );
}

export function registerSso(program: Command): void {
  const sso = program.command('sso').description('manage single sign-on providers (admins)');

  sso
    .command('list')
    .description('list single sign-on providers')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (opts: { output: OutputFormat; server?: string }) => {
      const { client } = await connect(opts.server);
      const answer = await client.json<{ items: SsoProvider[] }>('GET', '/v1/sso/providers');
      printList(
        answer.items,
        opts.output,
        [
          { header: 'NAME', value: (p) => p.name },
          { header: 'ISSUER', value: (p) => p.issuer },
          { header: 'CLIENT', value: (p) => p.clientId },
          { header: 'GROUPS', value: (p) => p.groupsClaim },
          {
            header: 'DOMAINS',
            value: (p) => (p.allowedDomains.length > 0 ? p.allowedDomains.join(',') : '*'),
          },
          { header: 'MAX SESSION', value: (p) => formatDuration(p.maxSessionSeconds) },
        ],
        'single sign-on providers',
      );
    });

  providerOptions(
    sso
      .command('add')
      .description('add a provider (needs --issuer, --client-id and a client secret)')
      .argument('<name>', 'provider name (a DNS-1123 label)'),
  ).action(async (name: string, opts: ProviderOptions) => {
    const payload = await body(opts);
    for (const [key, flag] of [
      ['issuer', '--issuer'],
      ['clientId', '--client-id'],
      ['clientSecret', '--client-secret-stdin or --client-secret-file'],
    ] as const)
      if (payload[key] === undefined) throw new UsageError(`sso add needs ${flag}`);
    const { client } = await connect(opts.server);
    show(await client.json<SsoProvider>('POST', '/v1/sso/providers', { name, ...payload }), opts.output);
  });

  providerOptions(
    sso.command('set').description("change a provider's settings").argument('<name>', 'provider name'),
  ).action(async (name: string, opts: ProviderOptions) => {
    const payload = await body(opts);
    if (Object.keys(payload).length === 0)
      throw new UsageError('sso set needs at least one setting to change');
    const { client } = await connect(opts.server);
    show(await client.json<SsoProvider>('PATCH', `/v1/sso/providers/${seg(name)}`, payload), opts.output);
  });

  sso
    .command('remove')
    .description("remove a provider; its people's sessions end at once")
    .argument('<name>', 'provider name')
    .addOption(serverOption())
    .action(async (name: string, opts: { server?: string }) => {
      const { client } = await connect(opts.server);
      await client.request('DELETE', `/v1/sso/providers/${seg(name)}`);
      write(`Removed single sign-on provider ${name}\n`);
    });
}
