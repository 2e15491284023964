// The browser shell's wire protocol: JSON text frames over the WebSocket.
//   client → server  {"type":"input","data":string}          keystrokes, as xterm.js's onData gives them
//                    {"type":"resize","cols":int,"rows":int}  1..1000 each
//   server → client  {"type":"output","data":string}         terminal output
//                    {"type":"exit","reason":string}          the session has ended; the socket closes next
import type { RawData } from 'ws';

export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_TERMINAL_SIZE = 1000;

export type ClientFrame = { type: 'input'; data: string } | { type: 'resize'; cols: number; rows: number };
export type ServerFrame = { type: 'output'; data: string } | { type: 'exit'; reason: string };

export type FrameResult = { ok: true; frame: ClientFrame } | { ok: false; error: string };

function size(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function text(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('utf8');
}

function isDimension(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_TERMINAL_SIZE;
}

/** Reads one frame from the browser; anything unexpected is an error to log and ignore. */
export function parseClientFrame(data: RawData, isBinary: boolean): FrameResult {
  if (isBinary) return { ok: false, error: 'binary frame' };
  const bytes = size(data);
  if (bytes > MAX_FRAME_BYTES)
    return { ok: false, error: `frame of ${bytes} bytes (at most ${MAX_FRAME_BYTES})` };
  let value: unknown;
  try {
    value = JSON.parse(text(data));
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: 'not a JSON object' };
  const frame = value as Record<string, unknown>;
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
