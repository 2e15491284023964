// Rendering for listing and show commands: an aligned table for people, JSON or YAML for programs.
// JSON and YAML carry the API's objects unchanged; the table picks and formats columns.
import { Option } from 'commander';
import YAML from 'yaml';
import { formatSpan } from './duration.js';
import { oneLine } from './errors.js';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
}

export interface Column<T> {
  header: string;
  value: (item: T) => string;
}

const GAP = '   ';

/** Columns padded to their widest cell; the last column is not padded, so no line has trailing blanks. */
export function renderTable<T>(items: readonly T[], columns: readonly Column<T>[]): string {
  const rows = [
    columns.map((c) => c.header),
    ...items.map((item) => columns.map((c) => cell(c.value(item)))),
  ];
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((text, i) => (i === row.length - 1 ? text : text.padEnd(widths[i] ?? 0)))
        .join(GAP)
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** Two columns, a label and its value; a value with several lines continues under the first. */
export function renderFields(fields: readonly (readonly [string, string | readonly string[]])[]): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  let out = '';
  for (const [label, value] of fields) {
    const lines = typeof value === 'string' ? [value] : value.length > 0 ? value : ['<none>'];
    lines.forEach((line, i) => {
      out += `${(i === 0 ? label : '').padEnd(width)}${GAP}${cell(line)}`.trimEnd() + '\n';
    });
  }
  return out;
}

/**
 * Marks that are invisible or reorder the text around them (bidi overrides and isolates, zero-width
 * characters, line separators): harmless to the terminal, but they can make text read as something it is not.
 */
export const INVISIBLE = /[\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

// What JSON.stringify leaves raw that a terminal may act on (DEL, C1 controls such as the 8-bit CSI) or that
// is invisible. Such characters occur only inside strings, where an escape stands for the same character:
// the JSON parses to the same data.
const JSON_UNSAFE = new RegExp(`[\\u007f-\\u009f]|${INVISIBLE.source}`, 'g');

export function renderData(data: unknown, format: 'json' | 'yaml'): string {
  if (format === 'yaml') return YAML.stringify(data);
  const json = String(JSON.stringify(data, null, 2)).replace(
    JSON_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `${json}\n`;
}

/** A table cell: the server's text on one line, without control characters; empty shows as `-`. */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  return oneLine(String(value));
}

export function write(text: string): void {
  process.stdout.write(text);
}

/** Prints a list in the chosen format. An empty table says so on stderr, as kubectl does. */
export function printList<T>(
  items: readonly T[],
  format: OutputFormat,
  columns: readonly Column<T>[],
  what: string,
): void {
  if (format !== 'table') {
    write(renderData(items, format));
  } else if (items.length === 0) {
    process.stderr.write(`No ${what} found.\n`);
  } else {
    write(renderTable(items, columns));
  }
}

/** `3d ago`, `in 5h`, `never` for a missing time; the raw text when it is not a time. */
export function age(iso: unknown, now: number = Date.now(), missing = 'never'): string {
  if (typeof iso !== 'string' || iso === '') return missing;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return cell(iso);
  const seconds = (now - at) / 1000;
  return seconds >= 0 ? `${formatSpan(seconds)} ago` : `in ${formatSpan(-seconds)}`;
}
