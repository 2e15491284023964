// Signed checkpoints of each org's chain head, written where the database's writer cannot rewrite them: an
// append-only file of JSON lines (and the webhook, if there is one). Signed every few seconds or every
// EVERY_RECORDS records, never per record: the proxy's path pays for a hash, not a signature.
import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import { ZtkaError, type AuditCheckpoint } from '@ztka/protocol';
import type { AuditQuery } from './query.js';
import { asCheckpoint, type AuditSigner } from './signer.js';

/** Records after which a checkpoint is signed without waiting for the interval. */
const EVERY_RECORDS = 1000;

export interface CheckpointOptions {
  signer: AuditSigner;
  query: AuditQuery;
  /** The append-only checkpoint file. */
  file: string;
  intervalMs: number;
  log: Logger;
  clock?: () => number;
}

type Head = { seq: number; hash: string };

export class AuditCheckpoints {
  /** The newest committed head of each org not yet signed. */
  readonly #pending = new Map<string, Head>();
  /** The head this process last signed (or found to extend the file's last checkpoint), per org. */
  readonly #signed = new Map<string, Head>();
  /** Orgs whose chain does not extend their last checkpoint: no more are signed for them until it does. */
  readonly #broken = new Set<string>();
  readonly #sinks: Array<(c: AuditCheckpoint) => void> = [];
  #since = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  readonly #clock: () => number;

  constructor(private readonly opts: CheckpointOptions) {
    this.#clock = opts.clock ?? Date.now;
  }

  /** Begins the periodic signing. */
  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.opts.intervalMs);
    this.#timer.unref();
  }

  /** Also sends every checkpoint to `sink` (the webhook). */
  onCheckpoint(sink: (c: AuditCheckpoint) => void): void {
    this.#sinks.push(sink);
  }

  /** Told of every committed record (AuditLog.onCommit). */
  committed(orgId: string, seq: number, hash: string): void {
    this.#pending.set(orgId, { seq, hash });
    if (++this.#since >= EVERY_RECORDS) {
      this.#since = 0;
      void this.flush();
    }
  }

  /** Signs and writes a checkpoint of every org whose head moved; failures are logged, never thrown. */
  flush(): Promise<void> {
    return this.#serial(async () => {
      this.#since = 0;
      const heads = [...this.#pending];
      this.#pending.clear();
      for (const [orgId, head] of heads) {
        if (this.#broken.has(orgId)) continue;
        try {
          await this.#checkpoint(orgId, head);
        } catch (err) {
          this.#broken.add(orgId);
          this.opts.log.error(
            { org: orgId, reason: err instanceof Error ? err.message : String(err) },
            'audit checkpoints stopped for this org until its chain verifies again',
          );
        }
      }
    });
  }

  /** Signs and writes a checkpoint of an org's current head, for an admin to keep. */
  now(orgId: string): Promise<AuditCheckpoint> {
    return this.#serial(async () => {
      const head = this.#pending.get(orgId) ?? this.#signed.get(orgId);
      this.#pending.delete(orgId);
      const c = await this.#checkpoint(orgId, head);
      this.#broken.delete(orgId);
      return c;
    });
  }

  /** Writes a checkpoint made elsewhere (a pruning checkpoint) to the file and the sinks. */
  record(c: AuditCheckpoint): Promise<void> {
    return this.#serial(() => this.#write(c));
  }

  /**
   * The org's newest head checkpoint in the file. A line that is not a checkpoint, or the newest of the org
   * not signed by this key, makes the answer a problem rather than an older checkpoint: someone wrote there.
   */
  async latest(orgId: string): Promise<{ checkpoint?: AuditCheckpoint; problem?: string }> {
    for await (const line of linesFromEnd(this.opts.file)) {
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      const c = asCheckpoint(parsed);
      if (!c)
        return { problem: `the checkpoint file ${this.opts.file} holds a line that is not a checkpoint` };
      if (c.org !== orgId || c.type !== 'head') continue;
      if (!this.opts.signer.verify(c))
        return {
          problem: `the newest checkpoint in ${this.opts.file} (record ${c.seq}) is not signed with this controller's audit key`,
        };
      return { checkpoint: c };
    }
    return {};
  }

  /** Stops the timer and signs what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  async #checkpoint(orgId: string, head: Head | undefined): Promise<AuditCheckpoint> {
    if (!head || !this.#signed.has(orgId)) {
      // Nothing this process signed yet: the head (read from the database at start) is signed only if the
      // chain still holds the file's last checkpoint and leads from it to this head.
      const { checkpoint: anchor, problem } = await this.latest(orgId);
      if (problem) throw new ZtkaError('conflict', problem);
      const v = await this.opts.query.verify(orgId, anchor, {
        fromAnchor: true,
        ...(head ? { upTo: head.seq } : {}),
      });
      if (!v.ok || !v.head)
        throw new ZtkaError(
          'conflict',
          `the audit trail does not verify against its last checkpoint: ${v.firstBad?.message ?? 'unknown'}`,
        );
      if (head && (v.head.seq !== head.seq || v.head.hash !== head.hash))
        throw new ZtkaError('conflict', `the audit trail's record ${head.seq} is not the one just written`);
      head = v.head;
    }
    const c = this.opts.signer.sign({ type: 'head', org: orgId, ...head, at: this.#clock() });
    await this.#write(c);
    this.#signed.set(orgId, head);
    return c;
  }

  async #write(c: AuditCheckpoint): Promise<void> {
    await fs.appendFile(this.opts.file, `${JSON.stringify(c)}\n`, { mode: 0o600, flag: 'a' });
    for (const sink of this.#sinks) sink(c);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(work, work);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}

/** The lines of a file, last first, read in blocks from its end; none if there is no file. */
async function* linesFromEnd(file: string, block = 64 * 1024): AsyncGenerator<string> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return;
    throw err;
  }
  try {
    let pos = (await fh.stat()).size;
    let rest = Buffer.alloc(0);
    while (pos > 0) {
      const size = Math.min(block, pos);
      pos -= size;
      const chunk = Buffer.alloc(size);
      await fh.read(chunk, 0, size, pos);
      // Splitting at the newline byte is safe in UTF-8: it never occurs inside a multi-byte character.
      let buf = Buffer.concat([chunk, rest]);
      for (let nl = buf.lastIndexOf(0x0a); nl >= 0; nl = buf.lastIndexOf(0x0a)) {
        yield buf.subarray(nl + 1).toString('utf8');
        buf = buf.subarray(0, nl);
      }
      rest = buf;
    }
    if (rest.length > 0) yield rest.toString('utf8');
  } finally {
    await fh.close();
  }
}
