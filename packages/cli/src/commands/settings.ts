// settings get|set: the org's settings under CLI names, durations, switches, levels and usernames in human
// form.
import type { Command } from 'commander';
import { NAMESPACE_POD_SECURITY, isNamespacePodSecurity } from '@ztka/protocol';
import type { Settings } from '../api.js';
import { formatDuration, parseDuration } from '../duration.js';
import { UsageError } from '../errors.js';
import { cell, outputOption, renderData, renderTable, write, type OutputFormat } from '../output.js';
import { connect, serverOption } from '../session.js';

type Field = keyof Settings;
type Kind = 'duration' | 'boolean' | 'pod-security' | 'username';

export const SETTINGS: Readonly<Record<string, { field: Field; kind: Kind }>> = {
  'kubeconfig-validity': { field: 'kubeconfigValiditySeconds', kind: 'duration' },
  'sa-lifetime': { field: 'saLifetimeSeconds', kind: 'duration' },
  'web-kubectl': { field: 'webKubectl', kind: 'boolean' },
  'cli-kubectl': { field: 'cliKubectl', kind: 'boolean' },
  'namespace-pod-security': { field: 'namespacePodSecurity', kind: 'pod-security' },
  'require-totp': { field: 'requireTotp', kind: 'boolean' },
  'sso-only': { field: 'ssoOnly', kind: 'boolean' },
  'break-glass-user': { field: 'breakGlassUser', kind: 'username' },
};

const TRUE = new Set(['on', 'true', 'enabled']);
const FALSE = new Set(['off', 'false', 'disabled']);

export function parseSwitch(text: string): boolean {
  const value = text.trim().toLowerCase();
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new Error(`invalid switch "${text}": use on/off, true/false or enabled/disabled`);
}

export function parsePodSecurity(text: string): Settings['namespacePodSecurity'] {
  const value = text.trim().toLowerCase();
  if (isNamespacePodSecurity(value)) return value;
  throw new Error(`invalid level "${text}": use ${NAMESPACE_POD_SECURITY.join(', ')}`);
}

/** A username, or '' (or `none`) for nobody. */
export function parseUsername(text: string): string {
  const value = text.trim();
  return value.toLowerCase() === 'none' ? '' : value;
}

const PARSERS: Readonly<Record<Kind, (text: string) => Settings[Field]>> = {
  duration: parseDuration,
  boolean: parseSwitch,
  'pod-security': parsePodSecurity,
  username: parseUsername,
};

function settingOf(key: string): { field: Field; kind: Kind } {
  const setting = SETTINGS[key];
  if (setting === undefined) {
    throw new UsageError(`unknown setting "${key}": use one of ${Object.keys(SETTINGS).join(', ')}`);
  }
  return setting;
}

/** The API value of `text` for `key`, as the PATCH body carries it. */
export function parseSetting(key: string, text: string): Settings {
  const { field, kind } = settingOf(key);
  try {
    return { [field]: PARSERS[kind](text) };
  } catch (err) {
    throw new UsageError(`${key}: ${(err as Error).message}`);
  }
}

export function formatSetting(kind: Kind, value: unknown): string {
  if (kind === 'duration' && typeof value === 'number') return formatDuration(value);
  if (kind === 'boolean' && typeof value === 'boolean') return value ? 'enabled' : 'disabled';
  return cell(value);
}

function show(settings: Settings, key: string | undefined, format: OutputFormat): void {
  const keys = key === undefined ? Object.keys(SETTINGS) : [key];
  if (format !== 'table') {
    const data: Record<string, unknown> =
      key === undefined ? { ...settings } : { [settingOf(key).field]: settings[settingOf(key).field] };
    write(renderData(data, format));
    return;
  }
  if (key !== undefined) {
    const { field, kind } = settingOf(key);
    write(`${formatSetting(kind, settings[field])}\n`);
    return;
  }
  const rows = keys.map((k) => {
    const { field, kind } = settingOf(k);
    return { key: k, value: formatSetting(kind, settings[field]) };
  });
  write(
    renderTable(rows, [
      { header: 'KEY', value: (r) => r.key },
      { header: 'VALUE', value: (r) => r.value },
    ]),
  );
}

export function registerSettings(program: Command): void {
  const settings = program.command('settings').description("show and change the org's settings");
  const keys = Object.keys(SETTINGS).join(', ');

  settings
    .command('get')
    .description('show every setting, or one')
    .argument('[key]', `one of ${keys}`)
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (key: string | undefined, opts: { output: OutputFormat; server?: string }) => {
      if (key !== undefined) settingOf(key);
      const { client } = await connect(opts.server);
      show(await client.json<Settings>('GET', '/v1/settings'), key, opts.output);
    });

  settings
    .command('set')
    .description(
      `change a setting (admins): durations like 8h or 30d, switches on/off, levels ${NAMESPACE_POD_SECURITY.join('/')}, ` +
        'a username or none; sso-only on needs break-glass-user set first (an org ADMIN with a password) and ' +
        "ends every other password holder's credentials",
    )
    .argument('<key>', `one of ${keys}`)
    .argument('<value>', 'the new value')
    .addOption(serverOption())
    .action(async (key: string, value: string, opts: { server?: string }) => {
      const body = parseSetting(key, value);
      const { client } = await connect(opts.server);
      const updated = await client.json<Settings | undefined>('PATCH', '/v1/settings', body);
      const { field, kind } = settingOf(key);
      const shown = updated?.[field] ?? body[field];
      write(`${key} set to ${formatSetting(kind, shown)}\n`);
    });
}
