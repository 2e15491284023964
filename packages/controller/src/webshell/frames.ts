// The browser shell's frames as they arrive on the socket: text, within the size limit, then decoded by the
// protocol's one definition (@ztka/protocol's shell-frames.ts documents the frames).
import type { RawData } from 'ws';
import { MAX_FRAME_BYTES, decodeClientFrame, type ShellFrameResult } from '@ztka/protocol';

export { MAX_FRAME_BYTES } from '@ztka/protocol';
export type { ShellServerFrame as ServerFrame } from '@ztka/protocol';

function size(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function text(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString('utf8');
}

/** Reads one frame from the browser; anything unexpected is an error to log and ignore. */
export function parseClientFrame(data: RawData, isBinary: boolean): ShellFrameResult {
  if (isBinary) return { ok: false, error: 'binary frame' };
  const bytes = size(data);
  if (bytes > MAX_FRAME_BYTES)
    return { ok: false, error: `frame of ${bytes} bytes (at most ${MAX_FRAME_BYTES})` };
  return decodeClientFrame(text(data));
}
