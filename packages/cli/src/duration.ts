// Durations as people type them (`30s`, `15m`, `8h`, `30d`, `1h30m`) and as the API stores them (integer
// seconds). Formatting is the inverse of parsing, so a value shown by ztka can be typed back unchanged.

const UNITS = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
] as const;

// Units in descending order, each at most once: `1h30m` but not `30m1h`, which reads like a typo.
const COMPOUND = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Seconds in `text`; an Error naming the accepted forms when it is not a duration. */
export function parseDuration(text: string): number {
  const input = text.trim();
  const fail = (): never => {
    throw new Error(
      `invalid duration "${input}": use a number of seconds or units like 30s, 15m, 8h, 30d, 1h30m`,
    );
  };
  if (input === '') return fail();
  let seconds: number;
  if (/^\d+$/.test(input)) {
    seconds = Number(input);
  } else {
    const match = COMPOUND.exec(input);
    if (!match) return fail();
    seconds = 0;
    UNITS.forEach(([, size], i) => {
      const part = match[i + 1];
      if (part !== undefined) seconds += Number(part) * size;
    });
  }
  if (!Number.isSafeInteger(seconds)) return fail();
  return seconds;
}

/** `seconds` in the compact form parseDuration reads: 28800 → `8h`, 5400 → `1h30m`, 0 → `0s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  let rest = Math.round(Math.abs(seconds));
  let out = '';
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  return (seconds < 0 ? '-' : '') + (out === '' ? '0s' : out);
}

/** The largest whole unit of a span, for ages in tables (`3d`, `5h`, `12m`, `40s`). */
export function formatSpan(seconds: number): string {
  const abs = Math.floor(Math.abs(seconds));
  for (const [unit, size] of UNITS) {
    if (abs >= size) return `${Math.floor(abs / size)}${unit}`;
  }
  return '0s';
}
