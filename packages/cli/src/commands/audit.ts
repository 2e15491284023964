// audit api|system|commands|verify|checkpoint|export: the audit trail, for admins. Lists show the newest
// records first, up to --limit; export streams the server's JSON lines or CSV to stdout or a file without
// holding them.
import { Option, type Command } from 'commander';
import { readFile, type FileHandle } from 'node:fs/promises';
import type { AuditCheckpoint } from '@ztka/protocol';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ApiRecord, AuditVerification, CommandView, SystemRecord } from '@ztka/protocol';
import { networkReason, type Client } from '../client.js';
import {
  addFilterOptions,
  DEFAULT_AUDIT_LIMIT,
  filterQuery,
  parseLimit,
  type AuditFilterOptions,
} from '../audit-filters.js';
import {
  API_COLUMNS,
  brokenTrailMessage,
  COMMAND_COLUMNS,
  SYSTEM_COLUMNS,
  verifiedMessage,
} from '../audit-format.js';
import { CliError } from '../errors.js';
import { openPrivateFileInPlace } from '../fsutil.js';
import { outputOption, printList, renderData, write, type Column, type OutputFormat } from '../output.js';
import { connect, serverOption } from '../session.js';

interface ListOptions extends AuditFilterOptions {
  limit: string;
  output: OutputFormat;
  server?: string;
}

interface ExportOptions extends AuditFilterOptions {
  format: 'jsonl' | 'csv';
  kind?: 'api' | 'command' | 'system';
  file?: string;
  server?: string;
}

interface ListSpec<T> {
  name: string;
  path: string;
  description: string;
  columns: readonly Column<T>[];
  /** For `No <what> found.` */
  what: string;
}

function registerList<T>(audit: Command, spec: ListSpec<T>): void {
  addFilterOptions(audit.command(spec.name).description(spec.description))
    .option('--limit <n>', 'how many records to show, newest first', String(DEFAULT_AUDIT_LIMIT))
    .addOption(outputOption())
    .addOption(serverOption())
    .action(async (opts: ListOptions) => {
      const limit = parseLimit(opts.limit);
      const query = filterQuery(opts);
      const { client } = await connect(opts.server);
      printList(await client.list<T>(spec.path, query, limit), opts.output, spec.columns, spec.what);
    });
}

async function verify(opts: { output: OutputFormat; server?: string; checkpoint?: string }): Promise<void> {
  const checkpoint = opts.checkpoint === undefined ? undefined : await readCheckpoint(opts.checkpoint);
  const { client } = await connect(opts.server);
  const result = checkpoint
    ? await client.json<AuditVerification | undefined>('POST', '/v1/audit/verify', { checkpoint })
    : await client.json<AuditVerification | undefined>('GET', '/v1/audit/verify');
  if (typeof result !== 'object' || result === null || typeof result.ok !== 'boolean') {
    throw new CliError(`the server at ${client.server} sent an invalid answer to /v1/audit/verify`);
  }
  if (opts.output !== 'table') write(renderData(result, opts.output));
  if (!result.ok) throw new CliError(brokenTrailMessage(result));
  if (checkpoint && result.anchor?.seq !== checkpoint.seq)
    throw new CliError(`the server at ${client.server} did not check the trail against the checkpoint`);
  if (opts.output === 'table') write(`${verifiedMessage(result)}\n`);
}

/**
 * The newest head checkpoint in FILE: the output of `ztka audit checkpoint`, or any file of such lines (a
 * copy of the controller's checkpoint file, the webhook's copies).
 */
async function readCheckpoint(file: string): Promise<AuditCheckpoint> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  for (const line of lines.reverse()) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const c = value as Partial<AuditCheckpoint> | null;
    if (c?.type === 'head' && typeof c.seq === 'number' && typeof c.signature === 'string') {
      const { type, org, seq, hash, at, keyId, signature } = c as AuditCheckpoint;
      return { type, org, seq, hash, at, keyId, signature };
    }
  }
  throw new CliError(`${file} holds no audit checkpoint (the output of ztka audit checkpoint)`);
}

async function checkpoint(opts: { server?: string }): Promise<void> {
  const { client } = await connect(opts.server);
  const c = await client.json<AuditCheckpoint>('POST', '/v1/audit/checkpoint');
  // One JSON line: append it to a file kept away from the controller, and give it to verify --checkpoint.
  write(`${JSON.stringify(c)}\n`);
}

/** Copies `body` to `out`; a failure says which side failed. */
async function copy(
  client: Client,
  body: Readable,
  out: Writable,
  target: string | undefined,
): Promise<void> {
  // pipeline destroys every stream with the first error, so note which one had it.
  let failed: 'read' | 'write' | undefined;
  body.on('error', () => (failed ??= 'read'));
  out.on('error', () => (failed ??= 'write'));
  try {
    // stdout stays open for whatever the process writes after; a file is ended (and closed).
    await pipeline(body, out, { end: target !== undefined });
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    if (target !== undefined && failed === 'write') {
      throw new CliError(`cannot write ${target}: ${error.message}`, 1, { cause: err });
    }
    const incomplete = target === undefined ? '' : `; ${target} is incomplete`;
    const message = `the export from ${client.server} broke off: ${networkReason(error)}${incomplete}`;
    throw new CliError(message, 1, { cause: err });
  }
}

async function exportTrail(opts: ExportOptions): Promise<void> {
  const query = { ...filterQuery(opts), format: opts.format, kind: opts.kind };
  const { client } = await connect(opts.server);
  // The answer is checked before the file is touched: a refused export leaves an existing file alone.
  const body = await client.stream('/v1/audit/export', {
    query,
    accept: `${opts.format === 'csv' ? 'text/csv' : 'application/x-ndjson'}, application/json`,
  });
  if (opts.file === undefined) {
    await copy(client, body, process.stdout, undefined);
    return;
  }
  let handle: FileHandle;
  try {
    handle = await openPrivateFileInPlace(opts.file);
  } catch (err) {
    body.destroy();
    throw new CliError(`cannot write ${opts.file}: ${(err as Error).message}`);
  }
  // Audit records name people and what they did: owner-only, like the kubeconfig.
  const out = handle.createWriteStream();
  await copy(client, body, out, opts.file);
  write(`Wrote ${out.bytesWritten} bytes of audit records to ${opts.file}\n`);
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('read, verify and export the audit trail (admins)');

  registerList<ApiRecord>(audit, {
    name: 'api',
    path: '/v1/audit/api',
    description: 'list kube API calls made through ztka, newest first',
    columns: API_COLUMNS,
    what: 'API calls',
  });
  registerList<SystemRecord>(audit, {
    name: 'system',
    path: '/v1/audit/system',
    description: 'list logins, credentials issued and administrative changes, newest first',
    columns: SYSTEM_COLUMNS,
    what: 'system events',
  });
  registerList<CommandView>(audit, {
    name: 'commands',
    path: '/v1/audit/commands',
    description: 'list command lines from the web shell and kubectl invocations, newest first',
    columns: COMMAND_COLUMNS,
    what: 'commands',
  });

  audit
    .command('verify')
    .description(
      "check the audit trail's hash chain and its last signed checkpoint: exit 1 if a record was modified, " +
        'deleted or reordered, or the trail was cut short',
    )
    .option('--checkpoint <file>', 'check against this checkpoint (from ztka audit checkpoint) instead')
    .addOption(outputOption())
    .addOption(serverOption())
    .action(verify);

  audit
    .command('checkpoint')
    .description("print a signed checkpoint of the trail's newest record, to keep apart from the controller")
    .addOption(serverOption())
    .action(checkpoint);

  addFilterOptions(
    audit
      .command('export')
      .description('stream audit records as JSON lines or CSV, to stdout or a file')
      .addOption(
        new Option('--format <format>', 'jsonl (audit.k8s.io/v1 Events for API calls) or csv')
          .choices(['jsonl', 'csv'])
          .makeOptionMandatory(),
      )
      .addOption(
        new Option('--kind <kind>', 'which records (default: api)').choices(['api', 'command', 'system']),
      ),
  )
    .option('-f, --file <file>', 'write to this file (mode 0600) instead of stdout')
    .addOption(serverOption())
    .action(exportTrail);
}
