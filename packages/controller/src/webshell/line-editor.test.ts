import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BELL, LineEditor, charWidth, type EditResult } from './line-editor.js';

const PROMPT = 'u@c$ '; // 5 columns
const UP = '\x1b[A';
const DOWN = '\x1b[B';
const LEFT = '\x1b[D';
const RIGHT = '\x1b[C';
const HOME = '\x1b[H';
const END = '\x1b[F';

/**
 * Just enough of a VT100 to check what the editor draws: printable ASCII with xterm's deferred wrap at the
 * right margin, CR, LF, BS, BEL, and CSI A B C D H J K and 2J.
 */
class Screen {
  rows: string[][] = [[]];
  x = 0;
  y = 0;
  #wrapNext = false;

  constructor(readonly cols: number) {}

  #row(y: number): string[] {
    while (this.rows.length <= y) this.rows.push([]);
    return this.rows[y] ?? [];
  }

  write(s: string): this {
    for (let i = 0; i < s.length;) {
      const c = s.charAt(i);
      if (c === '\x1b') {
        const m = /^\[(\d*)([A-DHJK])/.exec(s.slice(i + 1));
        assert.ok(m, `unexpected escape sequence ${JSON.stringify(s.slice(i, i + 8))}`);
        const n = Number(m[1] || '1');
        const op = m[2];
        if (op === 'J' && m[1] === '2') this.rows = [[]];
        else if (op === 'A') this.y = Math.max(0, this.y - n);
        else if (op === 'B') this.y += n;
        else if (op === 'C') this.x = Math.min(this.cols - 1, this.x + n);
        else if (op === 'D') this.x = Math.max(0, this.x - n);
        else if (op === 'H') this.x = this.y = 0;
        else if (op === 'K') this.#row(this.y).length = Math.min(this.#row(this.y).length, this.x);
        else if (op === 'J') {
          this.#row(this.y).length = Math.min(this.#row(this.y).length, this.x);
          this.rows.length = Math.min(this.rows.length, this.y + 1);
        }
        this.#wrapNext = false;
        i += 1 + m[0].length;
        continue;
      }
      if (c === '\r') this.x = 0;
      else if (c === '\n') this.y++;
      else if (c === '\b') this.x = Math.max(0, this.x - 1);
      else if (c !== BELL) {
        if (this.#wrapNext) {
          this.x = 0;
          this.y++;
        }
        const row = this.#row(this.y);
        while (row.length < this.x) row.push(' ');
        row[this.x] = c;
        this.#wrapNext = this.x === this.cols - 1;
        if (!this.#wrapNext) this.x++;
        i++;
        continue;
      }
      this.#wrapNext = false;
      i++;
    }
    return this;
  }

  get lines(): string[] {
    const lines = this.rows.map((r) => r.join('').trimEnd());
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  }
}

function setup(cols = 80, opts: { maxHistory?: number; maxLineBytes?: number } = {}) {
  const editor = new LineEditor(PROMPT, { cols, ...opts });
  const screen = new Screen(cols).write(editor.newPrompt());
  // As the session does: a submitted line is followed by a new prompt.
  const type = (data: string) => {
    const result = editor.feed(data);
    screen.write(result.output);
    if (result.line !== undefined) screen.write(editor.newPrompt());
    return result;
  };
  /** The cursor is where the editor means it to be: after the prompt and `before` characters. */
  const cursorAfter = (before: number, firstRow = 0) => {
    const at = PROMPT.length + before;
    assert.deepEqual([screen.y, screen.x], [firstRow + Math.floor(at / cols), at % cols], 'cursor position');
  };
  return { editor, screen, type, cursorAfter };
}

/** A result without its work count, for comparing outputs. */
function omitWork(result: EditResult): Partial<EditResult> {
  const rest: Partial<EditResult> = { ...result };
  delete rest.work;
  return rest;
}

function wrap(text: string, cols: number): string[] {
  const rows: string[] = [];
  for (let i = 0; i < text.length; i += cols) rows.push(text.slice(i, i + cols).trimEnd());
  return rows;
}

describe('line editor', () => {
  test('typing echoes, Enter submits the line with CRLF and keeps what followed', () => {
    const { screen, type } = setup();
    assert.deepEqual(omitWork(type('kubectl get ns')), { output: 'kubectl get ns', rest: '' });
    const result = type('\rkubectl get pods\r');
    assert.equal(result.line, 'kubectl get ns');
    assert.equal(result.output, '\r\n');
    assert.equal(result.rest, 'kubectl get pods\r');
    assert.deepEqual(screen.lines, ['u@c$ kubectl get ns', 'u@c$']);
    assert.deepEqual([screen.y, screen.x], [1, 5]);
  });

  test('\\r\\n and \\n are one Enter each', () => {
    const { type } = setup();
    assert.deepEqual(omitWork(type('a\r\nb')), { output: 'a\r\n', line: 'a', rest: 'b' });
    assert.deepEqual(omitWork(type('b\n')), { output: 'b\r\n', line: 'b', rest: '' });
  });

  test('insertion and deletion in the middle redraw the line with ESC[K', () => {
    const { screen, type, cursorAfter, editor } = setup();
    type('kubectl gt ns');
    const mid = type(`${LEFT}${LEFT}${LEFT}${LEFT}e`);
    assert.ok(mid.output.includes('\x1b[K'));
    assert.equal(editor.line, 'kubectl get ns');
    assert.deepEqual(screen.lines, ['u@c$ kubectl get ns']);
    cursorAfter(10);
    type('\x7f\x7f');
    assert.equal(editor.line, 'kubectl t ns');
    assert.deepEqual(screen.lines, ['u@c$ kubectl t ns']);
    cursorAfter(8);
    type(`${HOME}`);
    cursorAfter(0);
    type('\x7f'); // nothing to delete before the cursor
    type('\x1b[3~'); // Delete removes the character under the cursor
    assert.equal(editor.line, 'ubectl t ns');
    type(END);
    cursorAfter(11);
    type(RIGHT); // nothing to the right of the end
    cursorAfter(11);
    type('\b');
    assert.deepEqual(screen.lines, ['u@c$ ubectl t n']);
    cursorAfter(10);
  });

  test('Up and Down walk the history; the line being typed comes back', () => {
    const { screen, type, editor } = setup();
    type('kubectl get ns\r');
    type('kubectl get pods\r');
    type('kubectl get pods\r'); // not stored twice in a row
    type('   \r'); // blank lines are not stored
    assert.deepEqual(editor.history, ['kubectl get ns', 'kubectl get pods']);
    type('draft');
    type(UP);
    assert.equal(editor.line, 'kubectl get pods');
    type(UP);
    assert.equal(editor.line, 'kubectl get ns');
    type(UP); // the oldest stays
    assert.equal(editor.line, 'kubectl get ns');
    assert.equal(screen.lines.at(-1), 'u@c$ kubectl get ns');
    type(DOWN);
    type(DOWN);
    assert.equal(editor.line, 'draft');
    assert.equal(screen.lines.at(-1), 'u@c$ draft');
    type(DOWN);
    assert.equal(editor.line, 'draft');
    type(UP);
    assert.equal(type('\r').line, 'kubectl get pods');
  });

  test('history keeps the newest 200 entries', () => {
    const { type, editor } = setup();
    for (let i = 0; i < 250; i++) type(`kubectl get pod p${i}\r`);
    assert.equal(editor.history.length, 200);
    assert.equal(editor.history[0], 'kubectl get pod p50');
    assert.equal(editor.history[199], 'kubectl get pod p249');
  });

  test('Ctrl-C drops the line and prints ^C and a new prompt', () => {
    const { screen, type, editor } = setup();
    type(`kubectl get ns${LEFT}${LEFT}`);
    const result = type('\x03');
    assert.equal(result.line, undefined);
    assert.equal(editor.line, '');
    assert.deepEqual(screen.lines, ['u@c$ kubectl get ns^C', 'u@c$']);
    type('x');
    assert.deepEqual(screen.lines, ['u@c$ kubectl get ns^C', 'u@c$ x']);
  });

  test('Ctrl-D ends the session only on an empty line', () => {
    const { type } = setup();
    assert.equal(type('abc\x04').eof, undefined);
    type('\x03');
    assert.deepEqual(omitWork(type('\x04more')), { output: '', eof: true, rest: 'more' });
  });

  test('Ctrl-L clears the screen and redraws prompt and line', () => {
    const { screen, type, cursorAfter } = setup();
    type('kubectl get ns\r');
    type(`kubectl${LEFT}`);
    const result = type('\x0c');
    assert.ok(result.output.startsWith('\x1b[H\x1b[2J'));
    assert.deepEqual(screen.lines, ['u@c$ kubectl']);
    cursorAfter(6);
  });

  test('tab, other control characters and unknown escape sequences are ignored', () => {
    const { screen, type, editor } = setup();
    type('a\tb\x01\x02\x05\x1b[1;5D\x1b[15~\x1bOP\x1b]0;title\x07\x1bxc\u0085d');
    assert.equal(editor.line, 'abcd');
    assert.deepEqual(screen.lines, ['u@c$ abcd']);
  });

  test('a full line rings the bell and ignores the rest', () => {
    const { type, editor } = setup(80, { maxLineBytes: 10 });
    const result = type('kubectl get ns');
    assert.equal(editor.line, 'kubectl ge');
    assert.ok(result.output.endsWith(BELL));
    assert.equal(type('é').output, BELL);
    assert.equal(type('\r').line, 'kubectl ge');
    type('12345678é');
    assert.equal(editor.line, '12345678é'); // 10 bytes
  });

  test('a paste is inserted in one go and submitted line by line', () => {
    const { type, editor } = setup();
    type('xy');
    const first = type(`${LEFT}kubectl get ns\rkubectl get pods\r`);
    assert.equal(first.line, 'xkubectl get nsy');
    assert.equal(first.rest, 'kubectl get pods\r');
    assert.equal(type(first.rest).line, 'kubectl get pods');
    assert.equal(editor.line, '');
  });

  test('long lines wrap and every edit stays right on the screen', () => {
    const cols = 20;
    const { screen, type, cursorAfter, editor } = setup(cols);
    const text = 'kubectl get pods --namespace kube-system -o wide';
    type(text);
    assert.deepEqual(screen.lines, wrap(PROMPT + text, cols));
    assert.equal(screen.lines.length, 3);
    cursorAfter(text.length);
    type(HOME);
    cursorAfter(0);
    type('X');
    assert.equal(editor.line, `X${text}`);
    assert.deepEqual(screen.lines, wrap(`${PROMPT}X${text}`, cols));
    cursorAfter(1);
    for (let i = 0; i < 16; i++) type(RIGHT);
    cursorAfter(17);
    type('\x7f');
    const edited = `X${text}`.slice(0, 16) + `X${text}`.slice(17);
    assert.equal(editor.line, edited);
    assert.deepEqual(screen.lines, wrap(PROMPT + edited, cols));
    cursorAfter(16);
    // A shorter line from the history leaves no trace of the longer one.
    type(`${END}\r`);
    assert.deepEqual(screen.lines.slice(3), ['u@c$']);
    type('kubectl');
    type(UP);
    assert.equal(screen.lines.length, 6);
    type(DOWN);
    assert.deepEqual(screen.lines.slice(3), ['u@c$ kubectl']);
    cursorAfter(7, 3);
  });

  test('a line that ends exactly on the margin puts the cursor on the next row', () => {
    const cols = 20;
    const { screen, type, cursorAfter } = setup(cols);
    type('a'.repeat(15)); // prompt (5) + 15 = 20 columns
    cursorAfter(15);
    type('b');
    assert.deepEqual(screen.lines, [`u@c$ ${'a'.repeat(15)}`, 'b']);
    cursorAfter(16);
    type('\x7f');
    cursorAfter(15);
    type(LEFT);
    cursorAfter(14);
    type(RIGHT);
    cursorAfter(15);
    type('c\r');
    assert.deepEqual(screen.lines, [`u@c$ ${'a'.repeat(15)}`, 'c', 'u@c$']);
    assert.deepEqual([screen.y, screen.x], [2, 5]);
  });

  test('Enter in the middle of a wrapped line moves below it first', () => {
    const { screen, type } = setup(20);
    type(`${'a'.repeat(30)}${HOME}`);
    type('\r');
    assert.deepEqual(screen.lines, [`u@c$ ${'a'.repeat(15)}`, 'a'.repeat(15), 'u@c$']);
    assert.deepEqual([screen.y, screen.x], [2, 5]);
  });

  test('wide characters take two columns, combining marks none', () => {
    assert.equal(charWidth('a'.codePointAt(0) ?? 0), 1);
    assert.equal(charWidth('漢'.codePointAt(0) ?? 0), 2);
    assert.equal(charWidth('🙂'.codePointAt(0) ?? 0), 2);
    assert.equal(charWidth(0x301), 0);
    const { type } = setup();
    type('漢字');
    assert.equal(type(LEFT).output, '\x1b[2D');
    assert.equal(type('\x7f').output, `\r${PROMPT}字\x1b[K\r\x1b[5C`);
  });

  test('a flood of history and cursor keys over a long line is drawn once and paid for by its length', () => {
    const cols = 80;
    const { screen, type, editor } = setup(cols);
    const long = 'kubectl get pods -l ' + 'a'.repeat(4000);
    type(`${long}\r`);
    type('short');
    // Hundreds of keys that each replace the whole line: one redraw, not one per key.
    const keys = `${UP}${DOWN}`.repeat(300) + UP;
    const result = editor.feed(keys);
    screen.write(result.output);
    assert.equal(editor.line, long);
    assert.deepEqual(
      screen.lines.slice(-wrap(`${PROMPT}${long}`, cols).length),
      wrap(`${PROMPT}${long}`, cols),
    );
    assert.ok(
      result.output.length < 2 * (PROMPT.length + long.length),
      `${result.output.length} characters drawn`,
    );
    // Each key was charged about the line's length.
    assert.ok(result.work >= 300 * long.length, `work ${result.work}`);
  });

  test('past its budget the editor stops and hands back the rest, which reads on later as if whole', () => {
    const cols = 40;
    const whole = setup(cols);
    const split = setup(cols);
    const input = `kubectl get ${'x'.repeat(100)}${LEFT.repeat(50)}y${HOME}${'\x1b[3~'.repeat(3)}${END}\x7fz`;
    whole.type(input);
    let rest = input;
    let rounds = 0;
    for (; rest !== ''; rounds++) {
      const result = split.editor.feed(rest, 200);
      split.screen.write(result.output);
      assert.ok(result.stalled === true || result.rest === '');
      rest = result.rest;
    }
    assert.ok(rounds > 5, `${rounds} rounds`);
    assert.equal(split.editor.line, whole.editor.line);
    assert.deepEqual(split.screen.lines, whole.screen.lines);
    assert.deepEqual([split.screen.y, split.screen.x], [whole.screen.y, whole.screen.x]);
  });
});
