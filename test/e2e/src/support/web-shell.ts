// A browser shell driven without a browser: log in with a password (the console's session cookie), open
// the shell's WebSocket with the console's Origin, type lines and read what the terminal would show.
import https from 'node:https';
import { WebSocket } from 'ws';
import { decodeServerFrame, encodeShellFrame } from '@ztka/protocol';

export interface WebShellTarget {
  url: string;
  ca: string;
}

/** The console's session cookie for a person (`name=value`). */
export async function sessionCookie(
  target: WebShellTarget,
  username: string,
  password: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${target.url}/v1/auth/login`,
      { method: 'POST', ca: target.ca, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        if (res.statusCode !== 200) return reject(new Error(`login as ${username}: ${res.statusCode}`));
        resolve(String(res.headers['set-cookie']).split(';')[0] ?? '');
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ username, password }));
  });
}

export class WebShell {
  #out = '';
  #exits: string[] = [];
  readonly closed: Promise<void>;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = decodeServerFrame(String(data));
      if (frame?.type === 'output') this.#out += frame.data;
      else if (frame?.type === 'exit') this.#exits.push(frame.reason);
    });
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  /** Opens a shell on `cluster` as the person; resolves once the WebSocket is open (not yet at a prompt). */
  static async open(target: WebShellTarget, cookie: string, cluster: string): Promise<WebShell> {
    const ws = new WebSocket(`${target.url.replace(/^https/, 'wss')}/v1/shell?cluster=${cluster}`, {
      ca: target.ca,
      headers: { cookie, origin: new URL(target.url).origin },
    });
    const shell = new WebShell(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`shell refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return shell;
  }

  /** Everything the terminal has shown. */
  get output(): string {
    return this.#out;
  }

  /** The reasons the server gave for ending the shell. */
  get exits(): readonly string[] {
    return this.#exits;
  }

  send(data: string): void {
    this.ws.send(encodeShellFrame({ type: 'input', data }));
  }

  /** Waits until the output after `from` matches `pattern`; returns the index just past the match. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const tail = this.#out.slice(from);
      const m = pattern.exec(tail);
      if (m) return from + m.index + m[0].length;
      if (Date.now() > deadline)
        throw new Error(`the shell never showed ${String(pattern)}; after ${from} it shows:\n${tail}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Waits for the first prompt. */
  async ready(timeoutMs = 30_000): Promise<void> {
    await this.waitFor(/\$ $/, 0, timeoutMs);
  }

  /** Types a line and returns what the terminal showed until the next prompt. */
  async run(line: string, timeoutMs = 30_000): Promise<string> {
    const from = this.#out.length;
    this.send(`${line}\r`);
    const end = await this.waitFor(/\r\n[^\r\n]*\$ $/, from + line.length, timeoutMs);
    return this.#out.slice(from, end);
  }

  close(): void {
    this.ws.close();
  }
}
