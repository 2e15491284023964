// Durations as people type them (`30s`, `15m`, `8h`, `30d`, `1h30m`, or a bare number of seconds) and as the
// API stores them (integer seconds): one grammar for the console, the CLI and the audit API's `last`.
// Formatting is the inverse of parsing, so a value ztka shows can be typed back unchanged.

/** The units, largest first, in seconds. */
export const DURATION_UNITS = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
] as const;

/**
 * The grammar: a bare number of seconds, or units in descending order, each at most once — `1h30m`, not
 * `30m1h`, which reads like a typo. Lower case only, as ztka prints them.
 */
const DURATION = /^(?:(\d+)|(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?)$/;

/** The grammar as a JSON Schema `pattern`, for the API's duration parameters. */
export const DURATION_PATTERN = DURATION.source;

/** The accepted forms, for messages that refuse a duration. */
export const DURATION_FORMS = 'a number of seconds or units like 30s, 15m, 8h, 30d, 1h30m';

/** Seconds in `text` (surrounding blanks ignored); undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, bare, ...parts] = match;
  let seconds = bare === undefined ? 0 : Number(bare);
  DURATION_UNITS.forEach(([, size], i) => {
    const part = parts[i];
    if (part !== undefined) seconds += Number(part) * size;
  });
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** `seconds` in the compact form parseDuration reads: 28800 → `8h`, 5400 → `1h30m`, 0 → `0s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  let rest = Math.round(Math.abs(seconds));
  let out = '';
  for (const [unit, size] of DURATION_UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  return (seconds < 0 ? '-' : '') + (out === '' ? '0s' : out);
}
