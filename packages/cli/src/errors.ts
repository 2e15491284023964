// The CLI's error types. Every failure ends as one `ztka: <message>` line on stderr; the exit code tells
// scripts whether they called ztka wrongly (2) or the call itself failed (1).

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure to report as `ztka: <message>`. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_FAILURE, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** The command line itself is wrong: a missing or bad argument, an unknown key. */
export class UsageError extends CliError {
  override name = 'UsageError';

  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

// C0/C1 control characters, including ESC: text from a server must not be able to drive the terminal.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Text from elsewhere (a server, a file) made safe for one terminal line. */
export function oneLine(text: string): string {
  return text
    .replace(/\s*\r?\n\s*/g, ' ')
    .replace(CONTROL, '?')
    .trim();
}

/** Commander's own message (`error: missing required argument 'name'`) in ztka's one-line style. */
export function usageMessage(commanderMessage: string): string {
  return oneLine(commanderMessage.replace(/^error:\s*/, '').replace(/'([^']*)'/g, '"$1"'));
}

/** Prints `err` as its one `ztka: <message>` line on stderr and returns the exit code it calls for. */
export function reportError(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ztka: ${oneLine(message)}\n`);
  return err instanceof CliError ? err.exitCode : EXIT_FAILURE;
}
