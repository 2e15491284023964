// The browser shell's socket: JSON text frames over a same-origin WebSocket that the session cookie
// authenticates. Client → server: {type:"input",data} for keystrokes, {type:"resize",cols,rows}.
// Server → client: {type:"output",data} and {type:"exit",reason}. The server does all line editing.

/** The server takes frames up to 64 KiB and sizes up to 1000; a large paste goes in several frames. */
export const MAX_TERMINAL_SIZE = 1000;
const CHUNK_CHARS = 8000; // ≤ 48 KiB of JSON even if every character were escaped as \uXXXX

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

export type ShellServerMessage = { type: 'output'; data: string } | { type: 'exit'; reason: string };

export function inputMessage(data: string): string {
  return JSON.stringify({ type: 'input', data });
}

export function resizeMessage(cols: number, rows: number): string {
  return JSON.stringify({ type: 'resize', cols, rows });
}

/** A server frame, or undefined for anything the console does not know (ignored, not fatal). */
export function parseServerMessage(raw: unknown): ShellServerMessage | undefined {
  if (typeof raw !== 'string') return undefined;
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!msg || typeof msg !== 'object') return undefined;
  const m = msg as { type?: unknown; data?: unknown; reason?: unknown };
  if (m.type === 'output' && typeof m.data === 'string') return { type: 'output', data: m.data };
  if (m.type === 'exit') return { type: 'exit', reason: typeof m.reason === 'string' ? m.reason : '' };
  return undefined;
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
      if (this.#size) this.#ws.send(resizeMessage(this.#size.cols, this.#size.rows));
      handlers.onOpen();
    });
    this.#ws.addEventListener('message', (ev: MessageEvent) => {
      const msg = parseServerMessage(ev.data);
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
    for (const chunk of inputChunks(data)) this.#ws.send(inputMessage(chunk));
  }

  resize(cols: number, rows: number): void {
    if (cols <= 0 || rows <= 0) return;
    cols = Math.min(Math.floor(cols), MAX_TERMINAL_SIZE);
    rows = Math.min(Math.floor(rows), MAX_TERMINAL_SIZE);
    this.#size = { cols, rows };
    if (this.open) this.#ws.send(resizeMessage(cols, rows));
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
