// Carries the org's changes between controller replicas that share one PostgreSQL. Each replica announces
// what it changed with NOTIFY and LISTENs for the others', replaying them into its own ChangeFeed: caches
// empty, requests in flight (watches, execs, shells) are checked again and the agents this replica holds
// are told, within the time a notification takes, not at the next cache expiry. A replica that loses its
// listening connection cannot know what it missed: on reconnecting it treats everything as changed.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Client } from 'pg';
import type { ChangeFeed, OrgChange } from '../org/changes.js';

export const CHANGE_CHANNEL = 'ztka_changes';
/** PostgreSQL refuses payloads of 8,000 bytes or more; a larger change is sent as "anything may have changed". */
const MAX_PAYLOAD = 7000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

interface Envelope {
  from: string;
  change: OrgChange;
}

const ANYONE: OrgChange = { kind: 'assignments', userIds: 'all' };
const EVERYTHING: readonly OrgChange[] = [ANYONE, { kind: 'clusters' }];

function isChange(value: unknown): value is OrgChange {
  const kind = (value as { kind?: unknown } | null)?.kind;
  return (
    kind === 'user' ||
    kind === 'assignments' ||
    kind === 'credentials' ||
    kind === 'settings' ||
    kind === 'clusters'
  );
}

export class ChangeBridge {
  /** This replica, so it does not replay its own announcements. */
  readonly replicaId = randomUUID();
  #client: Client | undefined;
  #replaying = false;
  #closed = false;
  #delay = RECONNECT_MIN_MS;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<unknown> = Promise.resolve();
  readonly #off: () => void;

  constructor(
    private readonly url: string,
    private readonly changes: ChangeFeed,
    private readonly log: Logger,
  ) {
    this.#off = changes.on((change) => {
      if (!this.#replaying) this.#announce(change);
    });
  }

  /** Connects and listens; resolves once the first LISTEN is in place (later losses reconnect by themselves). */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** Resolves when every announcement made so far has been sent (or failed). */
  flushed(): Promise<unknown> {
    return this.#sending;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#off();
    clearTimeout(this.#timer);
    await this.#sending;
    await this.#client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new Client({ connectionString: this.url });
    client.on('notification', (msg) => {
      if (msg.channel === CHANGE_CHANNEL && msg.payload !== undefined) this.#receive(msg.payload);
    });
    client.on('error', (err) => {
      this.log.warn({ err: String(err) }, 'change bridge connection failed; reconnecting');
      this.#lost(client);
    });
    client.on('end', () => this.#lost(client));
    await client.connect();
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    this.#client = client;
    this.#delay = RECONNECT_MIN_MS;
  }

  #lost(client: Client): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    void client.end().catch(() => undefined);
    const retry = () => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.#connect().then(
        // What the others announced while this replica did not listen is unknown, and so is what they missed
        // of its own: both sides check everything again.
        () => {
          this.#replay(EVERYTHING);
          for (const change of EVERYTHING) this.#announce(change);
        },
        (err: unknown) => {
          this.log.warn({ err: String(err) }, 'change bridge could not reconnect');
          this.#delay = Math.min(this.#delay * 2, RECONNECT_MAX_MS);
          this.#timer = setTimeout(retry, this.#delay);
        },
      );
    };
    this.#timer = setTimeout(retry, this.#delay);
  }

  #announce(change: OrgChange): void {
    let payload = JSON.stringify({ from: this.replicaId, change } satisfies Envelope);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD)
      payload = JSON.stringify({ from: this.replicaId, change: ANYONE } satisfies Envelope);
    const client = this.#client;
    if (!client) return; // the others treat everything as changed when this replica's bridge comes back
    this.#sending = this.#sending
      .then(() => client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, payload]))
      .catch((err: unknown) => this.log.warn({ err: String(err) }, 'change not announced to other replicas'));
  }

  #receive(payload: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      return;
    }
    if (envelope.from === this.replicaId || !isChange(envelope.change)) return;
    this.#replay([envelope.change]);
  }

  #replay(changes: readonly OrgChange[]): void {
    this.#replaying = true;
    try {
      for (const change of changes) this.changes.emit(change);
    } finally {
      this.#replaying = false;
    }
  }
}
