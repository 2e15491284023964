// Times from the API are ISO strings or epoch milliseconds; the console shows them relative or local.

export function toDate(value: string | number | null | undefined): Date | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `2 d ago` (or `in …` for the future). */
export function relativeTime(value: string | number | null | undefined, now = Date.now()): string {
  const d = toDate(value);
  if (!d) return 'never';
  const diff = Math.round((now - d.getTime()) / 1000);
  const abs = Math.abs(diff);
  if (abs < 5) return 'just now';
  let text: string;
  if (abs < 60) text = `${abs} s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)} min`;
  else if (abs < 86_400) text = `${Math.floor(abs / 3600)} h`;
  else text = `${Math.floor(abs / 86_400)} d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** The ISO-8601 UTC spelling, for titles and exports. */
export function isoTime(value: string | number | null | undefined): string {
  return toDate(value)?.toISOString() ?? '';
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Local `YYYY-MM-DD HH:MM:SS`, sortable and unambiguous in a table. */
export function localTime(value: string | number | null | undefined): string {
  const d = toDate(value);
  if (!d) return '';
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** A `datetime-local` input's value (local wall time) as ISO-8601 UTC; undefined when empty or invalid. */
export function localInputToIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
