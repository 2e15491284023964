// The browser shell's socket: JSON text frames (@ztka/protocol/shell-frames) over a same-origin WebSocket
// that the session cookie authenticates. The server does all line editing.
import { MAX_TERMINAL_SIZE, decodeServerFrame, encodeShellFrame } from '@ztka/protocol/shell-frames';

// Characters per input frame: ≤ 48 KiB of JSON even if every one were escaped as \uXXXX, well within
// MAX_FRAME_BYTES (64 KiB).
const CHUNK_CHARS = 8000;

/** Keystrokes split into frames that fit, never splitting a surrogate pair. */
export function inputChunks(data: string): string[] {
  if (data.length <= CHUNK_CHARS) return [data];
  const chunks: string[] = [];
  let start = 0;
  while (start < data.length) {
    let end = Math.min(start + CHUNK_CHARS, data.length);
    const last = data.charCodeAt(end - 1);
    if (end < data.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    chunks.push(data.slice(start, end));
    start = end;
  }
  return chunks;
}

/** `wss://<host>/v1/shell?cluster=<cluster>` on the page's own origin (ws: only for a plain-http dev server). */
export function shellUrl(location: { protocol: string; host: string }, cluster: string): string {
  const scheme = location.protocol === 'http:' ? 'ws:' : 'wss:';
  return `${scheme}//${location.host}/v1/shell?cluster=${encodeURIComponent(cluster)}`;
}

export interface ShellHandlers {
  onOpen(): void;
  onOutput(data: string): void;
  onExit(reason: string): void;
  /** `opened` says whether the socket ever opened (a refused upgrade closes without opening). */
  onClose(opened: boolean, code: number, reason: string): void;
}

/** One shell session. The last size asked for before the socket opens is sent when it does. */
export class ShellSocket {
  readonly #ws: WebSocket;
  #size: { cols: number; rows: number } | undefined;
  #opened = false;
  #closed = false;

  constructor(url: string, handlers: ShellHandlers) {
    this.#ws = new WebSocket(url);
    this.#ws.addEventListener('open', () => {
      this.#opened = true;
      if (this.#size) this.#ws.send(encodeShellFrame({ type: 'resize', ...this.#size }));
      handlers.onOpen();
    });
    this.#ws.addEventListener('message', (ev: MessageEvent) => {
      const msg = decodeServerFrame(ev.data);
      if (msg?.type === 'output') handlers.onOutput(msg.data);
      else if (msg?.type === 'exit') handlers.onExit(msg.reason);
    });
    this.#ws.addEventListener('close', (ev: CloseEvent) => {
      if (this.#closed) return;
      this.#closed = true;
      handlers.onClose(this.#opened, ev.code, ev.reason);
    });
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  input(data: string): void {
    if (!this.open) return;
    for (const chunk of inputChunks(data)) this.#ws.send(encodeShellFrame({ type: 'input', data: chunk }));
  }

  resize(cols: number, rows: number): void {
    if (cols <= 0 || rows <= 0) return;
    cols = Math.min(Math.floor(cols), MAX_TERMINAL_SIZE);
    rows = Math.min(Math.floor(rows), MAX_TERMINAL_SIZE);
    this.#size = { cols, rows };
    if (this.open) this.#ws.send(encodeShellFrame({ type: 'resize', cols, rows }));
  }

  /** Closes without reporting it (the page is going away or reconnecting). */
  dispose(): void {
    this.#closed = true;
    if (this.#ws.readyState === WebSocket.CONNECTING || this.#ws.readyState === WebSocket.OPEN)
      this.#ws.close(1000, 'closed by the user');
  }
}

/** Text without control characters, safe to write into the terminal as one dim line. */
export function plainText(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code >= 0x20 && code !== 0x7f) out += ch;
  }
  return out;
}
