// oidc-provider's storage (sessions, interactions, grants, codes, tokens) in one JSON file of the state
// directory: what the provider issued outlives a restart, and a key rotation that builds a new Provider
// object keeps every session and token. Each write rewrites the file; a test provider holds a few hundred
// entries at most.
import fs from 'node:fs';
import path from 'node:path';
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  /** Epoch milliseconds; absent for what does not expire. */
  expiresAt?: number;
}

export const STORE_FILE = 'store.json';

export class FileStore {
  private readonly entries = new Map<string, Entry>();
  private readonly file: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, STORE_FILE);
    let saved: Record<string, Entry> = {};
    try {
      saved = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, Entry>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const now = Date.now();
    for (const [key, entry] of Object.entries(saved)) {
      if (entry.expiresAt === undefined || entry.expiresAt > now) this.entries.set(key, entry);
    }
  }

  /** The constructor oidc-provider's `adapter` option takes: one adapter per model name. */
  adapter(): new (model: string) => Adapter {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class below needs the store, not itself
    const store = this;
    return class implements Adapter {
      constructor(private readonly model: string) {}
      async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
        store.set(`${this.model}:${id}`, {
          payload,
          ...(expiresIn === undefined ? {} : { expiresAt: Date.now() + expiresIn * 1000 }),
        });
      }
      async find(id: string): Promise<AdapterPayload | undefined> {
        return store.get(`${this.model}:${id}`);
      }
      async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
        return store.findBy(this.model, (p) => p.userCode === userCode);
      }
      async findByUid(uid: string): Promise<AdapterPayload | undefined> {
        return store.findBy(this.model, (p) => p.uid === uid);
      }
      async consume(id: string): Promise<void> {
        const key = `${this.model}:${id}`;
        const entry = store.entries.get(key);
        if (entry)
          store.set(key, {
            ...entry,
            payload: { ...entry.payload, consumed: Math.floor(Date.now() / 1000) },
          });
      }
      async destroy(id: string): Promise<void> {
        store.delete((key) => key === `${this.model}:${id}`);
      }
      async revokeByGrantId(grantId: string): Promise<void> {
        store.delete((_key, entry) => entry.payload.grantId === grantId);
      }
    };
  }

  private get(key: string): AdapterPayload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      this.delete((k) => k === key);
      return undefined;
    }
    return entry.payload;
  }

  private findBy(model: string, match: (payload: AdapterPayload) => boolean): AdapterPayload | undefined {
    for (const key of this.entries.keys()) {
      if (!key.startsWith(`${model}:`)) continue;
      const payload = this.get(key);
      if (payload && match(payload)) return payload;
    }
    return undefined;
  }

  private set(key: string, entry: Entry): void {
    this.entries.set(key, entry);
    this.save();
  }

  private delete(match: (key: string, entry: Entry) => boolean): void {
    let changed = false;
    for (const [key, entry] of this.entries) {
      if (match(key, entry)) changed = this.entries.delete(key) || changed;
    }
    if (changed) this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.entries)), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}
