// Durations on the command line: the one grammar all of ztka reads (@ztka/protocol), refused with a message
// that names its forms, and ages for tables.
import { DURATION_FORMS, DURATION_UNITS, parseDuration as readDuration } from '@ztka/protocol';

export { formatDuration } from '@ztka/protocol';

/** Seconds in `text`; an Error naming the accepted forms when it is not a duration. */
export function parseDuration(text: string): number {
  const seconds = readDuration(text);
  if (seconds === undefined) throw new Error(`invalid duration "${text.trim()}": use ${DURATION_FORMS}`);
  return seconds;
}

/** The largest whole unit of a span, for ages in tables (`3d`, `5h`, `12m`, `40s`). */
export function formatSpan(seconds: number): string {
  const abs = Math.floor(Math.abs(seconds));
  for (const [unit, size] of DURATION_UNITS) {
    if (abs >= size) return `${Math.floor(abs / size)}${unit}`;
  }
  return '0s';
}
