// One browser shell: xterm.js ↔ this WebSocket ↔ the real kubectl in a pseudo-terminal, one command line at
// a time. There is no shell. At the prompt this module edits the line itself (line-editor.ts); Enter parses
// it (command-line.ts), records it in the audit trail and only then runs kubectl with a kubeconfig that
// points back at the controller's own proxy with a short-lived token. While kubectl runs, every keystroke
// goes to its terminal unchanged. kubectl runs in the session's sandbox (sandbox.ts), each command within
// a time limit. The session ends on Ctrl-D, idleness, its maximum lifetime, the browser going away or
// close(); then kubectl is stopped and the sandbox's directories removed.
//
//   opening ──▶ idle ──Enter──▶ submitting (record, renew the kubeconfig) ──▶ running ──exit──▶ idle
//      any state ──▶ ending
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { parseCommandLine } from './command-line.js';
import { parseClientFrame, type ServerFrame } from './frames.js';
import type { KubectlProcess } from './kubectl-process.js';
import { BELL, LineEditor } from './line-editor.js';
import { ShellUnavailable, type SandboxWorkspace } from './sandbox.js';

export interface ShellSessionOptions {
  /** The shell's one id: its kube tokens, kube socket, audit records, events and log lines all carry it. */
  id: string;
  socket: WebSocket; // already upgraded, authenticated by the caller
  username: string;
  cluster: string;
  /** The shell's sandbox, made when the session opens; a ShellUnavailable's message is shown as it is. */
  workspace: () => Promise<SandboxWorkspace>;
  /** Returns a fresh kubeconfig YAML (server = the controller's proxy, a token valid ≤ 15 min). Called at start and again before a command whenever the last one is older than refreshAfterMs. */
  kubeconfig: () => Promise<string>;
  refreshAfterMs?: number; // default 5 min
  /** Records the command line in the audit trail; it runs only if this resolves. */
  recordCommand: (line: string) => Promise<void>;
  /** Records a line the policy refused, and why; the refusal is given whether or not this succeeds. */
  recordRefusal?: (line: string, reason: string) => Promise<void>;
  idleTimeoutMs?: number; // default 15 min without input
  maxLifetimeMs?: number; // default 8 h
  commandTimeoutMs?: number; // default 1 h: a command still running then is stopped
  log: Logger;
  onEnd?: (reason: string) => void; // called exactly once when the session ends, after cleanup
}

export interface ShellSession {
  readonly id: string;
  close(reason: string): void;
  readonly ended: Promise<string>;
}

export const SHELL_DEFAULTS = {
  refreshAfterMs: 5 * 60_000,
  idleTimeoutMs: 15 * 60_000,
  maxLifetimeMs: 8 * 60 * 60_000,
  commandTimeoutMs: 60 * 60_000,
} as const;

/** Output waiting for the browser above which kubectl is paused, and below which it resumes. */
const HIGH_WATER = 1 << 20;
const LOW_WATER = 256 << 10;
/** Input a running command has not read yet, above which more is discarded. */
const MAX_PENDING_INPUT = 1 << 20;
/** Input held while no line editor or kubectl can take it (starting, recording a command). */
const MAX_HELD_INPUT = 64 * 1024;
/**
 * Line editing work (characters handled, see LineEditor.feed) a shell may spend per second, and at once.
 * A person typing or pasting spends a tiny part of it; a client sending edit keys over long lines as fast as
 * it can is slowed to this rate by no longer reading its socket, and nothing it sent is dropped.
 */
const EDIT_WORK_PER_SECOND = 2_000_000;
const EDIT_WORK_BURST = 2_000_000;
/**
 * What each submitted line costs on top: parsing it, a prompt, perhaps a refusal's record and log line. At
 * most 200 lines a second per shell then, far above typing or a paste, far below a loop of empty Enters.
 */
const LINE_WORK = 10_000;

type State = 'opening' | 'idle' | 'submitting' | 'running' | 'ending';

/** A name as the terminal may show it: no control characters. */
function plain(text: string): string {
  // eslint-disable-next-line no-control-regex -- replacing control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** A refused line for the server log: shortened, and without the secret of a --token or --password. */
export function forLog(line: string): string {
  const redacted = line.replace(/(--(?:token|password)(?:=|\s+))\S+/g, '$1<redacted>');
  return redacted.length > 1000 ? `${redacted.slice(0, 1000)}…` : redacted;
}

class Shell implements ShellSession {
  readonly id: string;
  readonly ended: Promise<string>;
  readonly #opts: ShellSessionOptions;
  readonly #log: Logger;
  readonly #editor: LineEditor;
  readonly #opening: Promise<void>;
  #resolveEnded: (reason: string) => void = () => undefined;
  #state: State = 'opening';
  #workspace: SandboxWorkspace | undefined;
  #commandTimer: NodeJS.Timeout | undefined;
  #held = '';
  #cancelled = false;
  #child: KubectlProcess | undefined;
  #cols = 80;
  #rows = 24;
  #kubeconfigAt = 0;
  #atLineStart = true;
  #unsent = 0;
  #paused = false;
  #editBudget = EDIT_WORK_BURST;
  #editBudgetAt = performance.now();
  /** Set while the shell waits for its editing budget; input read meanwhile is held, in order. */
  #editStall: NodeJS.Timeout | undefined;
  /** Held input is about to be read (#prompt). */
  #heldScheduled = false;
  /** Why the browser's socket is not being read: it resumes when no reason is left. */
  readonly #socketPauses = new Set<'output' | 'editing'>();
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #lifeTimer: NodeJS.Timeout;

  constructor(opts: ShellSessionOptions) {
    this.id = opts.id;
    this.#opts = opts;
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
    this.#log = opts.log.child({ shell: this.id, user: opts.username, cluster: opts.cluster });
    this.#editor = new LineEditor(`${plain(opts.username)}@${plain(opts.cluster)}$ `);

    const socket = opts.socket;
    socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.#onFrame(data, isBinary);
      } catch (err) {
        this.#fail(err);
      }
    });
    socket.on('close', () => this.close('the browser closed the shell'));
    socket.on('error', (err: Error) => this.#log.debug({ err }, 'webshell: socket error'));
    this.#lifeTimer = setTimeout(
      () => this.close('the shell reached its maximum lifetime'),
      opts.maxLifetimeMs ?? SHELL_DEFAULTS.maxLifetimeMs,
    );
    this.#opening = this.#open().catch((err: unknown) => this.#fail(err));
    if (socket.readyState !== socket.OPEN) this.close('the browser closed the shell');
  }

  /** A bug, not a user's doing: logged, and the session ends rather than the process. */
  #fail(err: unknown): void {
    this.#log.error({ err }, 'webshell: internal error');
    this.close('internal error');
  }

  /** The state now (a method, so that TypeScript does not carry a check across an await). */
  #is(state: State): boolean {
    return this.#state === state;
  }

  close(reason: string): void {
    if (this.#state === 'ending') return;
    this.#state = 'ending';
    void this.#end(reason);
  }

  async #open(): Promise<void> {
    try {
      this.#workspace = await this.#opts.workspace();
      if (this.#is('ending')) return;
      await this.#renewKubeconfig();
    } catch (err) {
      if (err instanceof ShellUnavailable) {
        this.#log.warn({ reason: err.message }, 'webshell: the shell could not start');
        this.#write(`ztka: ${err.message}\r\n`);
      } else {
        this.#log.error({ err }, 'webshell: the shell could not start');
        this.#write('ztka: the shell could not start\r\n');
      }
      this.close('the shell could not start');
      return;
    }
    if (this.#is('ending')) return;
    this.#touch(); // idle from here: making the sandbox is not the person's time
    const { uid, cgroup } = this.#workspace;
    this.#log.info({ uid, cgroup }, 'webshell: session started');
    const { cluster, username } = this.#opts;
    this.#write(
      `Connected to cluster ${plain(cluster)} as ${plain(username)}. Only kubectl commands run here.\r\n`,
    );
    this.#prompt();
  }

  async #renewKubeconfig(): Promise<void> {
    const yaml = await this.#opts.kubeconfig();
    if (this.#workspace === undefined || this.#is('ending')) return;
    await this.#workspace.writeKubeconfig(yaml);
    this.#kubeconfigAt = performance.now();
  }

  #touch(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(
      () => this.close('the shell was idle for too long'),
      this.#opts.idleTimeoutMs ?? SHELL_DEFAULTS.idleTimeoutMs,
    );
  }

  #onFrame(data: RawData, isBinary: boolean): void {
    const parsed = parseClientFrame(data, isBinary);
    if (!parsed.ok) {
      this.#log.debug({ reason: parsed.error }, 'webshell: ignored a malformed frame');
      return;
    }
    const frame = parsed.frame;
    if (frame.type === 'resize') {
      this.#cols = frame.cols;
      this.#rows = frame.rows;
      this.#editor.setColumns(frame.cols);
      try {
        this.#child?.resize(frame.cols, frame.rows);
      } catch (err) {
        this.#log.debug({ err }, 'webshell: could not resize the terminal');
      }
      return;
    }
    if (this.#state === 'ending') return;
    this.#touch();
    this.#input(frame.data);
  }

  #input(data: string): void {
    switch (this.#state) {
      case 'idle':
        if (this.#heldScheduled) {
          this.#held += data;
          return;
        }
        return this.#edit(data);
      case 'running':
        return this.#feedChild(data);
      case 'submitting':
        // Ctrl-C while the command is being recorded: it will not run.
        if (data.includes('\x03')) {
          this.#cancelled = true;
          this.#held = '';
          return;
        }
        return this.#hold(data);
      case 'opening':
        return this.#hold(data);
      case 'ending':
        return;
    }
  }

  #hold(data: string): void {
    if (this.#held.length + data.length > MAX_HELD_INPUT) this.#write(BELL);
    else this.#held += data;
  }

  #edit(data: string): void {
    if (this.#editStall !== undefined) {
      this.#held += data;
      return;
    }
    const now = performance.now();
    this.#editBudget = Math.min(
      EDIT_WORK_BURST,
      this.#editBudget + ((now - this.#editBudgetAt) * EDIT_WORK_PER_SECOND) / 1000,
    );
    this.#editBudgetAt = now;
    const result = this.#editor.feed(data, this.#editBudget);
    this.#editBudget -= result.work + (result.line !== undefined ? LINE_WORK : 0);
    if (result.output !== '') this.#write(result.output);
    if (result.stalled) return this.#stallEditing(result.rest);
    if (result.eof) return this.close('the shell was ended with Ctrl-D');
    if (result.line === undefined) return;
    // What came after the Enter (the next lines of a paste) waits for the next prompt.
    this.#held = result.rest;
    this.#submit(result.line).catch((err: unknown) => this.#fail(err));
  }

  /** Out of editing budget: stop reading the socket until enough has come back, then read on. */
  #stallEditing(rest: string): void {
    this.#held = rest + this.#held;
    this.#pauseSocket('editing');
    const waitMs = ((EDIT_WORK_BURST / 10 - this.#editBudget) * 1000) / EDIT_WORK_PER_SECOND;
    this.#editStall = setTimeout(() => {
      this.#editStall = undefined;
      this.#resumeSocket('editing');
      if (!this.#is('idle')) return;
      const held = this.#held;
      this.#held = '';
      try {
        this.#edit(held);
      } catch (err) {
        this.#fail(err);
      }
    }, Math.ceil(waitMs));
  }

  /**
   * Input for a running command. One that does not read it (a `kubectl exec -i` into a stuck process) must
   * not make the controller hold it: past a megabyte unread, further input is discarded with a bell, as a
   * terminal discards input its full buffer cannot take, and Ctrl-C is delivered at once as the signal it
   * stands for rather than queued behind what is unread.
   */
  #feedChild(data: string): void {
    const child = this.#child;
    if (child === undefined) return;
    const pending = child.pendingInput();
    if (pending > 0 && data.includes('\x03')) child.interrupt();
    if (pending > MAX_PENDING_INPUT) return this.#write(BELL);
    child.write(data);
  }

  #pauseSocket(why: 'output' | 'editing'): void {
    if (this.#socketPauses.size === 0) this.#opts.socket.pause();
    this.#socketPauses.add(why);
  }

  #resumeSocket(why: 'output' | 'editing'): void {
    if (!this.#socketPauses.delete(why) || this.#socketPauses.size > 0) return;
    this.#opts.socket.resume();
  }

  /** Back to the prompt; input held meanwhile is read now. */
  #prompt(): void {
    this.#state = 'idle';
    this.#write(this.#editor.newPrompt());
    if (this.#held === '' || this.#heldScheduled) return;
    // Read on in the next turn of the event loop, not from here: a paste of many lines that are refused or
    // empty would otherwise recurse once per line. Input arriving meanwhile joins what is held, in order.
    this.#heldScheduled = true;
    setImmediate(() => {
      this.#heldScheduled = false;
      if (!this.#is('idle') || this.#editStall !== undefined) return;
      const held = this.#held;
      this.#held = '';
      try {
        this.#edit(held);
      } catch (err) {
        this.#fail(err);
      }
    });
  }

  async #submit(line: string): Promise<void> {
    if (line.trim() === '' || this.#workspace === undefined) return this.#prompt();
    const parsed = parseCommandLine(line, this.#workspace.home);
    if (!parsed.ok) {
      this.#log.info({ line: forLog(line), reason: parsed.message }, 'webshell: refused a command line');
      this.#opts
        .recordRefusal?.(line, parsed.message)
        .catch((err: unknown) => this.#log.error({ err }, 'webshell: a refused line could not be recorded'));
      this.#write(`ztka: ${parsed.message}\r\n`);
      return this.#prompt();
    }

    this.#state = 'submitting';
    this.#cancelled = false;
    try {
      await this.#opts.recordCommand(line);
    } catch (err) {
      this.#log.error({ err }, 'webshell: a command line could not be recorded, so it was not run');
      if (!this.#is('submitting')) return;
      this.#write('ztka: the command could not be recorded, so it was not run\r\n');
      return this.#prompt();
    }
    if (!this.#is('submitting')) return;

    const refreshAfterMs = this.#opts.refreshAfterMs ?? SHELL_DEFAULTS.refreshAfterMs;
    if (performance.now() - this.#kubeconfigAt >= refreshAfterMs) {
      try {
        await this.#renewKubeconfig();
      } catch (err) {
        this.#log.error({ err }, 'webshell: could not renew the kubeconfig');
        if (!this.#is('submitting')) return;
        this.#write("ztka: the shell's credentials could not be renewed, so the command was not run\r\n");
        return this.#prompt();
      }
      if (!this.#is('submitting')) return;
    }
    if (this.#cancelled) {
      this.#write('^C\r\n');
      return this.#prompt();
    }
    this.#run(parsed.args.slice(1));
  }

  #run(args: string[]): void {
    let child: KubectlProcess;
    try {
      if (this.#workspace === undefined) throw new Error('no workspace');
      child = this.#workspace.spawn(args, this.#cols, this.#rows);
    } catch (err) {
      this.#log.error({ err }, 'webshell: kubectl could not be started');
      this.#write('ztka: kubectl could not be started\r\n');
      return this.#prompt();
    }
    this.#child = child;
    this.#state = 'running';
    this.#atLineStart = true;
    const limitMs = this.#opts.commandTimeoutMs ?? SHELL_DEFAULTS.commandTimeoutMs;
    this.#commandTimer = setTimeout(() => {
      if (this.#child !== child) return;
      this.#write(
        `${this.#atLineStart ? '' : '\r\n'}ztka: the command reached its time limit and was stopped\r\n`,
      );
      this.#atLineStart = true;
      void child.terminate();
    }, limitMs);
    child.onData((data) => {
      if (this.#state !== 'running' || this.#child !== child || data === '') return;
      this.#atLineStart = data.endsWith('\n');
      this.#write(data);
    });
    child.onExit((code) => {
      clearTimeout(this.#commandTimer);
      if (this.#child !== child) return;
      this.#child = undefined;
      if (this.#state !== 'running') return;
      try {
        // Output that did not end its line would run into the prompt.
        this.#write(`${this.#atLineStart ? '' : '\r\n'}${code !== 0 ? `[exit ${code}]\r\n` : ''}`);
        this.#prompt();
      } catch (err) {
        this.#fail(err);
      }
    });
  }

  #write(data: string): void {
    if (data !== '') this.#send({ type: 'output', data });
  }

  #send(frame: ServerFrame): void {
    const socket = this.#opts.socket;
    if (socket.readyState !== socket.OPEN) return;
    const text = JSON.stringify(frame);
    this.#unsent += text.length;
    socket.send(text, () => {
      this.#unsent -= text.length;
      if (this.#unsent >= LOW_WATER) return;
      if (this.#paused) {
        this.#paused = false;
        this.#child?.resume();
      }
      this.#resumeSocket('output');
    });
    if (this.#unsent <= HIGH_WATER) return;
    // A browser that reads slower than kubectl writes holds kubectl back instead of filling memory; one that
    // does not read the echo of what it types is no longer read from either.
    this.#pauseSocket('output');
    if (!this.#paused && this.#child !== undefined) {
      this.#paused = true;
      this.#child.pause();
    }
  }

  async #end(reason: string): Promise<void> {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#editStall);
    clearTimeout(this.#lifeTimer);
    clearTimeout(this.#commandTimer);
    await this.#opening;
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined) await child.terminate();
    // The person learns at once; cleaning the sandbox up is the controller's business.
    const socket = this.#opts.socket;
    if (socket.readyState === socket.OPEN) {
      this.#send({ type: 'exit', reason });
      socket.close(1000);
    }
    if (this.#workspace !== undefined) {
      await this.#workspace
        .release()
        .catch((err: unknown) =>
          this.#log.error({ err, home: this.#workspace?.home }, 'webshell: could not release the sandbox'),
        );
    }
    this.#log.info({ reason }, 'webshell: session ended');
    this.#resolveEnded(reason);
    try {
      this.#opts.onEnd?.(reason);
    } catch (err) {
      this.#log.error({ err }, 'webshell: onEnd failed');
    }
  }
}

/** Starts a shell on an upgraded, authenticated WebSocket. */
export function startShellSession(opts: ShellSessionOptions): ShellSession {
  return new Shell(opts);
}
