// The browser shell's wire protocol: JSON text frames over the WebSocket, one definition for the controller
// that serves the shell and the console that draws it.
//   client → server  {"type":"input","data":string}          keystrokes, as xterm.js's onData gives them
//                    {"type":"resize","cols":int,"rows":int}  1..1000 each
//   server → client  {"type":"output","data":string}         terminal output
//                    {"type":"exit","reason":string}          the session has ended; the socket closes next

/** The largest frame the server reads; a large paste goes in several frames. */
export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_TERMINAL_SIZE = 1000;

export type ShellClientFrame =
  { type: 'input'; data: string } | { type: 'resize'; cols: number; rows: number };
export type ShellServerFrame = { type: 'output'; data: string } | { type: 'exit'; reason: string };

export type ShellFrameResult = { ok: true; frame: ShellClientFrame } | { ok: false; error: string };

export function encodeShellFrame(frame: ShellClientFrame | ShellServerFrame): string {
  return JSON.stringify(frame);
}

function isDimension(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_TERMINAL_SIZE;
}

function jsonObject(text: string): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return value as Record<string, unknown>;
}

/**
 * One frame from the browser, already known to be text within MAX_FRAME_BYTES; anything unexpected is an
 * error to log and ignore.
 */
export function decodeClientFrame(text: string): ShellFrameResult {
  const frame = jsonObject(text);
  if (typeof frame === 'string') return { ok: false, error: frame };
  if (frame.type === 'input') {
    if (typeof frame.data !== 'string') return { ok: false, error: 'input without string data' };
    return { ok: true, frame: { type: 'input', data: frame.data } };
  }
  if (frame.type === 'resize') {
    if (!isDimension(frame.cols) || !isDimension(frame.rows))
      return { ok: false, error: `resize needs integer cols and rows from 1 to ${MAX_TERMINAL_SIZE}` };
    return { ok: true, frame: { type: 'resize', cols: frame.cols, rows: frame.rows } };
  }
  return { ok: false, error: `unknown frame type ${String(frame.type).slice(0, 40)}` };
}

/** A frame from the server, or undefined for anything the console does not know (ignored, not fatal). */
export function decodeServerFrame(raw: unknown): ShellServerFrame | undefined {
  if (typeof raw !== 'string') return undefined;
  const frame = jsonObject(raw);
  if (typeof frame === 'string') return undefined;
  if (frame.type === 'output' && typeof frame.data === 'string') return { type: 'output', data: frame.data };
  if (frame.type === 'exit')
    return { type: 'exit', reason: typeof frame.reason === 'string' ? frame.reason : '' };
  return undefined;
}
