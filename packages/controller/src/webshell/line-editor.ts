// The prompt's line editing, done on the server because there is no shell: keystrokes in (as xterm.js
// sends them), terminal output out. Printable text is inserted at the cursor; Backspace, Delete, Left/Right,
// Home/End and Up/Down (history) edit; Ctrl-C drops the line, Ctrl-D on an empty line ends the session,
// Ctrl-L clears the screen, Enter submits. Tab and every other control character or escape sequence is
// ignored. A line that wraps is redrawn as a block (cursor up, ESC[J), so editing stays right on any width.
const ESC = '\x1b';
export const BELL = '\x07';
const CLEAR_SCREEN = `${ESC}[H${ESC}[2J`;

export interface EditResult {
  /** Terminal output for what was read (echo, redraws, new prompts). */
  output: string;
  /** Work done, in characters handled: what the caller's editing budget is charged. */
  work: number;
  /** The budget ran out before the input did: `rest` is the input not read yet, to feed again later. */
  stalled?: boolean;
  /** Enter was pressed: the line to run; `rest` is the input after it, not read yet. */
  line?: string;
  /** Ctrl-D on an empty line. */
  eof?: boolean;
  rest: string;
}

export interface LineEditorOptions {
  cols?: number;
  maxHistory?: number;
  maxLineBytes?: number;
}

type Key = 'up' | 'down' | 'left' | 'right' | 'home' | 'end' | 'delete';

const KEYS: Record<string, Key> = {
  [`${ESC}[A`]: 'up',
  [`${ESC}OA`]: 'up',
  [`${ESC}[B`]: 'down',
  [`${ESC}OB`]: 'down',
  [`${ESC}[C`]: 'right',
  [`${ESC}OC`]: 'right',
  [`${ESC}[D`]: 'left',
  [`${ESC}OD`]: 'left',
  [`${ESC}[H`]: 'home',
  [`${ESC}OH`]: 'home',
  [`${ESC}[1~`]: 'home',
  [`${ESC}[7~`]: 'home',
  [`${ESC}[F`]: 'end',
  [`${ESC}OF`]: 'end',
  [`${ESC}[4~`]: 'end',
  [`${ESC}[8~`]: 'end',
  [`${ESC}[3~`]: 'delete',
};

/** Columns a code point takes: 0 for combining marks, 2 for East Asian wide and emoji, else 1. */
export function charWidth(cp: number): number {
  if (
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x1dc0 && cp <= 0x1dff) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0xfe20 && cp <= 0xfe2f)
  )
    return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

function width(chars: readonly string[], from = 0, to = chars.length): number {
  let w = 0;
  for (let i = from; i < to; i++) w += charWidth((chars[i] ?? '').codePointAt(0) ?? 0);
  return w;
}

function utf8Length(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

function printable(cp: number): boolean {
  return cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f);
}

/** Length of the escape sequence at `i` (CSI, SS3, string controls, or ESC + one character). */
function escapeLength(data: string, i: number): number {
  const next = data[i + 1];
  if (next === undefined || next === ESC) return 1;
  if (next === '[') {
    let j = i + 2;
    while (j < data.length && /[0-?]/.test(data.charAt(j))) j++;
    while (j < data.length && /[ -/]/.test(data.charAt(j))) j++;
    return j < data.length && /[@-~]/.test(data.charAt(j)) ? j - i + 1 : j - i;
  }
  if (next === 'O') return Math.min(3, data.length - i);
  if (']P^_X'.includes(next)) {
    // A string up to BEL or ESC \ (or the end of the input).
    for (let j = i + 2; j < data.length; j++) {
      if (data[j] === BELL) return j - i + 1;
      if (data[j] === ESC && data[j + 1] === '\\') return j - i + 2;
    }
    return data.length - i;
  }
  return 2;
}

export class LineEditor {
  readonly prompt: string;
  readonly #promptWidth: number;
  readonly #maxHistory: number;
  readonly #maxLineBytes: number;
  #cols: number;
  #chars: string[] = [];
  #cursor = 0;
  #bytes = 0;
  /** Rows below the prompt's first row: where the cursor is, and where the line ends, as last drawn. */
  #cursorRow = 0;
  #endRow = 0;
  #history: string[] = [];
  #historyAt = 0;
  #draft: string[] = [];
  /** The line changed since it was last drawn: it is drawn once, when the input read so far ends. */
  #dirty = false;
  #work = 0;

  constructor(prompt: string, opts: LineEditorOptions = {}) {
    this.prompt = prompt;
    this.#promptWidth = width(Array.from(prompt));
    this.#cols = opts.cols ?? 80;
    this.#maxHistory = opts.maxHistory ?? 200;
    this.#maxLineBytes = opts.maxLineBytes ?? 64 * 1024;
  }

  get line(): string {
    return this.#chars.join('');
  }

  get history(): readonly string[] {
    return this.#history;
  }

  setColumns(cols: number): void {
    this.#cols = Math.max(1, cols);
  }

  /** Starts an empty line; returns the prompt to write. */
  newPrompt(): string {
    this.#chars = [];
    this.#cursor = 0;
    this.#bytes = 0;
    this.#cursorRow = 0;
    this.#endRow = Math.floor(this.#promptWidth / this.#cols);
    this.#historyAt = this.#history.length;
    this.#draft = [];
    this.#dirty = false;
    return this.prompt;
  }

  /**
   * Reads keystrokes up to and including an Enter (or Ctrl-D on an empty line), or until `budget` units of
   * work are spent. Each key costs about the characters it handles (an edit or cursor move on a long line
   * costs the line's length), so whoever sends keys faster than a person types is slowed, not served: a
   * frame of Up and Down over a 64 KiB line would otherwise hold the controller's thread for seconds.
   * However many keys change the line, it is drawn once per call.
   */
  feed(data: string, budget = Infinity): EditResult {
    let out = '';
    let rang = false;
    let i = 0;
    this.#work = 0;
    while (i < data.length) {
      if (this.#work >= budget) {
        out += this.#flush();
        return { output: out, work: this.#work, stalled: true, rest: data.slice(i) };
      }
      const c = data.charAt(i);
      if (c === '\r' || c === '\n') {
        i += c === '\r' && data[i + 1] === '\n' ? 2 : 1;
        const line = this.line;
        out += this.#flush() + this.#toEnd() + '\r\n';
        this.#remember(line);
        this.newPrompt();
        return { output: out, work: this.#work, line, rest: data.slice(i) };
      }
      if (c === ESC) {
        const len = escapeLength(data, i);
        const key = KEYS[data.slice(i, i + len)];
        this.#work += len;
        if (key !== undefined) {
          this.#work += this.#chars.length;
          out += this.#key(key);
        }
        i += len;
        continue;
      }
      if (c === '\x03') {
        // A new prompt each time: charged like a line's worth of drawing.
        this.#work += this.prompt.length + this.#chars.length + 100;
        out += this.#flush() + this.#toEnd() + '^C\r\n' + this.newPrompt();
        i++;
        continue;
      }
      if (c === '\x04') {
        i++;
        if (this.#chars.length === 0)
          return { output: out + this.#flush(), work: this.#work, eof: true, rest: data.slice(i) };
        continue;
      }
      if (c === '\x0c') {
        out += CLEAR_SCREEN;
        this.#cursorRow = 0;
        this.#endRow = 0;
        this.#dirty = true;
        out += this.#flush();
        i++;
        continue;
      }
      if (c === '\x7f' || c === '\b') {
        this.#work += 1 + this.#chars.length;
        out += this.#backspace();
        i++;
        continue;
      }
      // A run of printable characters is inserted at once (a paste redraws once, not per character).
      const run: string[] = [];
      while (i < data.length) {
        const cp = data.codePointAt(i) ?? 0;
        if (!printable(cp)) break;
        const ch = String.fromCodePoint(cp);
        i += ch.length;
        if (this.#bytes + utf8Length(ch) > this.#maxLineBytes) {
          rang = true;
          continue;
        }
        this.#bytes += utf8Length(ch);
        run.push(ch);
      }
      if (run.length > 0) {
        this.#work += run.length + this.#chars.length;
        out += this.#insert(run);
      } else if (!rang) {
        this.#work++;
        i++; // Tab and the other control characters are ignored
      }
      if (rang) out += BELL; // the line is full: the rest of this run is dropped
      rang = false;
    }
    return { output: out + this.#flush(), work: this.#work, rest: '' };
  }

  #remember(line: string): void {
    if (line.trim() === '' || this.#history[this.#history.length - 1] === line) return;
    this.#history.push(line);
    if (this.#history.length > this.#maxHistory) this.#history.shift();
  }

  #key(key: Key): string {
    switch (key) {
      case 'left':
        return this.#cursor > 0 ? this.#moveTo(this.#cursor - 1) : '';
      case 'right':
        return this.#cursor < this.#chars.length ? this.#moveTo(this.#cursor + 1) : '';
      case 'home':
        return this.#moveTo(0);
      case 'end':
        return this.#moveTo(this.#chars.length);
      case 'delete':
        if (this.#cursor >= this.#chars.length) return '';
        this.#bytes -= utf8Length(this.#chars.splice(this.#cursor, 1)[0] ?? '');
        return this.#redraw();
      case 'up':
        if (this.#historyAt === 0) return '';
        if (this.#historyAt === this.#history.length) this.#draft = this.#chars;
        return this.#recall(this.#historyAt - 1);
      case 'down':
        if (this.#historyAt >= this.#history.length) return '';
        return this.#recall(this.#historyAt + 1);
    }
  }

  #recall(at: number): string {
    this.#historyAt = at;
    this.#chars = at === this.#history.length ? this.#draft : Array.from(this.#history[at] ?? '');
    this.#cursor = this.#chars.length;
    this.#bytes = Buffer.byteLength(this.line, 'utf8');
    return this.#redraw();
  }

  #insert(run: string[]): string {
    const atEnd = this.#cursor === this.#chars.length;
    this.#chars.splice(this.#cursor, 0, ...run);
    this.#cursor += run.length;
    const end = this.#promptWidth + width(this.#chars);
    // Typing at the end of the line is echoed as is, unless it ends exactly on the right margin (where
    // terminals hold the cursor back until the next character, and a redraw puts it on the next row).
    if (!this.#dirty && atEnd && end % this.#cols !== 0) {
      this.#cursorRow = this.#endRow = Math.floor(end / this.#cols);
      return run.join('');
    }
    return this.#redraw();
  }

  #backspace(): string {
    if (this.#cursor === 0) return '';
    const [gone] = this.#chars.splice(this.#cursor - 1, 1);
    this.#cursor--;
    this.#bytes -= utf8Length(gone ?? '');
    const w = charWidth((gone ?? '').codePointAt(0) ?? 0);
    const end = this.#promptWidth + width(this.#chars);
    // At the end of a one-row line: step back and erase.
    if (!this.#dirty && this.#cursor === this.#chars.length && this.#endRow === 0 && end < this.#cols)
      return w === 0 ? '' : '\b'.repeat(w) + `${ESC}[K`;
    return this.#redraw();
  }

  #moveTo(index: number): string {
    const from = this.#promptWidth + width(this.#chars, 0, this.#cursor);
    const to = this.#promptWidth + width(this.#chars, 0, index);
    this.#cursor = index;
    // Within one row: a cursor movement. Across rows, or when a redraw is due anyway, the redraw puts it right.
    if (!this.#dirty && Math.floor(from / this.#cols) === Math.floor(to / this.#cols)) {
      if (to === from) return '';
      return to < from ? `${ESC}[${from - to}D` : `${ESC}[${to - from}C`;
    }
    return this.#redraw();
  }

  /** Moves the cursor to the end of the line, for what follows it (^C, the Enter's new line). */
  #toEnd(): string {
    if (this.#cursor === this.#chars.length) return '';
    const end = this.#promptWidth + width(this.#chars);
    const down = this.#endRow - this.#cursorRow;
    const col = end % this.#cols;
    this.#cursor = this.#chars.length;
    this.#cursorRow = this.#endRow;
    return `${down > 0 ? `${ESC}[${down}B` : ''}\r${col > 0 ? `${ESC}[${col}C` : ''}`;
  }

  /** The line must be drawn again; it is, once, when the input read so far ends (#flush). */
  #redraw(): string {
    this.#dirty = true;
    return '';
  }

  #flush(): string {
    if (!this.#dirty) return '';
    this.#dirty = false;
    this.#work += this.#chars.length;
    return this.#draw();
  }

  /** Rewrites prompt and line from the prompt's first row and puts the cursor back where it belongs. */
  #draw(): string {
    const cols = this.#cols;
    let out = this.#cursorRow > 0 ? `${ESC}[${this.#cursorRow}A` : '';
    const end = this.#promptWidth + width(this.#chars);
    const endRow = Math.floor(end / cols);
    // On one row, erase what is left after the new text. Otherwise erase everything below first: text that
    // ends on the margin leaves the cursor on its last character, which an erase after it would take.
    if (this.#endRow === 0 && endRow === 0) out += `\r${this.prompt}${this.line}${ESC}[K`;
    else out += `\r${ESC}[J${this.prompt}${this.line}`;
    // Ending exactly on the margin: move to the next row ourselves, so the position is known.
    if (end > 0 && end % cols === 0) out += '\n\r';
    const at = this.#promptWidth + width(this.#chars, 0, this.#cursor);
    const row = Math.floor(at / cols);
    const col = at % cols;
    if (endRow > row) out += `${ESC}[${endRow - row}A`;
    if (at !== end || end % cols === 0) out += `\r${col > 0 ? `${ESC}[${col}C` : ''}`;
    this.#cursorRow = row;
    this.#endRow = endRow;
    return out;
  }
}
