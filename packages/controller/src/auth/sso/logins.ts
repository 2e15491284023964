// Logins in progress. A start stores what its callback must check (the state's hash, the nonce, the sealed
// PKCE verifier, the browser that started it) and the callback consumes the row once, atomically, so a
// replayed callback or state finds nothing. For the CLI the callback then leaves a one-time hand-off code that
// only the CLI holding the matching PKCE verifier can redeem. Rows live in the store, not in memory, so any
// replica can finish a login another started.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { SecretBox } from '../../store/sealed.js';

/** How long a person may take at the provider's login page. */
export const LOGIN_TTL_MS = 10 * 60_000;
/** How long the CLI has to redeem its hand-off code once the browser is back. */
export const HANDOFF_TTL_MS = 60_000;

export type LoginClient = 'console' | 'cli' | 'device';

export interface PendingLogin {
  id: string;
  providerId: string;
  nonce: string;
  /** The PKCE verifier, or for the device flow the provider's device authorization response as JSON. */
  secret: string;
  client: LoginClient;
  cliRedirect: string | null;
  /** The CLI's PKCE challenge for its hand-off code. */
  cliChallenge: string | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const secretContext = (id: string) => `oidc-pkce:${id}`;
const random = () => randomBytes(32).toString('base64url');

export class SsoLogins {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Stores a new login; `state` is the value the provider will echo (or, for the device flow, the poll token). */
  async start(opts: {
    providerId: string;
    state: string;
    browserSecret: string;
    nonce: string;
    secret: string;
    client: LoginClient;
    cliRedirect?: string;
    cliChallenge?: string;
    ttlMs?: number;
  }): Promise<string> {
    const id = randomUUID();
    const now = this.clock();
    await this.db
      .insertInto('sso_logins')
      .values({
        id,
        state_hash: sha256(opts.state),
        provider_id: opts.providerId,
        browser_hash: sha256(opts.browserSecret),
        nonce: opts.nonce,
        code_verifier: this.box.seal(opts.secret, secretContext(id)),
        client: opts.client === 'device' ? 'cli' : opts.client,
        cli_redirect: opts.client === 'device' ? 'device' : (opts.cliRedirect ?? null),
        cli_challenge: opts.cliChallenge ?? null,
        created_at: now,
        expires_at: now + (opts.ttlMs ?? LOGIN_TTL_MS),
        used_at: null,
        handoff_hash: null,
        handoff_user_id: null,
        handoff_expires_at: null,
        handoff_used_at: null,
      })
      .execute();
    return id;
  }

  /**
   * Takes the login `state` belongs to, once: undefined when there is none, it expired, it was used, or it
   * was started in another browser (each a refusal the caller words the same way).
   */
  async consume(state: string, browserSecret: string | undefined): Promise<PendingLogin | undefined> {
    const now = this.clock();
    const row = await this.db
      .selectFrom('sso_logins')
      .selectAll()
      .where('state_hash', '=', sha256(state))
      .where((eb) => eb.or([eb('cli_redirect', 'is', null), eb('cli_redirect', '!=', 'device')]))
      .executeTakeFirst();
    // The browser first: whoever learns a state (from a log, a shoulder) cannot spend it from elsewhere.
    if (!row || browserSecret === undefined || sha256(browserSecret) !== row.browser_hash) return undefined;
    const taken = await this.db
      .updateTable('sso_logins')
      .set({ used_at: now })
      .where('id', '=', row.id)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (taken.numUpdatedRows === 0n) return undefined;
    return this.#pending(row);
  }

  /** The login a device-flow poll token names, while it is unused and unexpired (polled many times). */
  async device(pollToken: string): Promise<PendingLogin | undefined> {
    const row = await this.db
      .selectFrom('sso_logins')
      .selectAll()
      .where('state_hash', '=', sha256(pollToken))
      .where('cli_redirect', '=', 'device')
      .where('used_at', 'is', null)
      .where('expires_at', '>', this.clock())
      .executeTakeFirst();
    return row && this.#pending(row);
  }

  /** Marks a device-flow login finished, once; false if another poll finished it first. */
  async finishDevice(id: string): Promise<boolean> {
    const result = await this.db
      .updateTable('sso_logins')
      .set({ used_at: this.clock() })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Leaves the CLI's one-time code for a person who logged in; returns it. It is not redeemable until the
   * person confirms, in the browser that logged in, that the CLI is theirs (`confirm`).
   */
  async handOff(loginId: string, userId: string): Promise<string> {
    const code = random();
    await this.db
      .updateTable('sso_logins')
      .set({ handoff_hash: sha256(code), handoff_user_id: userId, handoff_expires_at: null })
      .where('id', '=', loginId)
      .execute();
    return code;
  }

  /**
   * The person confirmed the hand-off in the browser that logged in: the code becomes redeemable for
   * HANDOFF_TTL_MS. Returns the CLI's loopback URL, or undefined (unknown code, other browser, done already).
   */
  async confirm(code: string, browserSecret: string | undefined): Promise<string | undefined> {
    if (browserSecret === undefined) return undefined;
    const now = this.clock();
    const row = await this.db
      .selectFrom('sso_logins')
      .select(['id', 'browser_hash', 'cli_redirect', 'created_at'])
      .where('handoff_hash', '=', sha256(code))
      .where('handoff_expires_at', 'is', null)
      .where('handoff_used_at', 'is', null)
      .executeTakeFirst();
    if (!row || row.cli_redirect === null || row.browser_hash !== sha256(browserSecret)) return undefined;
    if (now - Number(row.created_at) > LOGIN_TTL_MS) return undefined;
    const set = await this.db
      .updateTable('sso_logins')
      .set({ handoff_expires_at: now + HANDOFF_TTL_MS })
      .where('id', '=', row.id)
      .where('handoff_expires_at', 'is', null)
      .executeTakeFirst();
    return set.numUpdatedRows > 0n ? row.cli_redirect : undefined;
  }

  /** Logins started and not finished: bounded, so unauthenticated starts cannot fill the store. */
  async pending(): Promise<number> {
    const row = await this.db
      .selectFrom('sso_logins')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('used_at', 'is', null)
      .where('expires_at', '>', this.clock())
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * The person a hand-off code was left for, once, if `verifier` is the one whose S256 challenge the CLI
   * sent at the start; undefined otherwise.
   */
  async redeem(code: string, verifier: string): Promise<string | undefined> {
    const now = this.clock();
    const row = await this.db
      .selectFrom('sso_logins')
      .select(['id', 'cli_challenge', 'handoff_user_id'])
      .where('handoff_hash', '=', sha256(code))
      .executeTakeFirst();
    if (!row || row.handoff_user_id === null || row.cli_challenge === null) return undefined;
    const taken = await this.db
      .updateTable('sso_logins')
      .set({ handoff_used_at: now })
      .where('id', '=', row.id)
      .where('handoff_used_at', 'is', null)
      .where('handoff_expires_at', 'is not', null)
      .where('handoff_expires_at', '>', now)
      .executeTakeFirst();
    if (taken.numUpdatedRows === 0n) return undefined;
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    return challenge === row.cli_challenge ? row.handoff_user_id : undefined;
  }

  /** Deletes logins long finished or abandoned. */
  async prune(): Promise<void> {
    await this.db
      .deleteFrom('sso_logins')
      .where('expires_at', '<', this.clock() - LOGIN_TTL_MS)
      .execute();
  }

  #pending(row: {
    id: string;
    provider_id: string;
    nonce: string;
    code_verifier: string;
    client: 'console' | 'cli';
    cli_redirect: string | null;
    cli_challenge: string | null;
  }): PendingLogin {
    return {
      id: row.id,
      providerId: row.provider_id,
      nonce: row.nonce,
      secret: this.box.open(row.code_verifier, secretContext(row.id)),
      client: row.cli_redirect === 'device' ? 'device' : row.client,
      cliRedirect: row.cli_redirect === 'device' ? null : row.cli_redirect,
      cliChallenge: row.cli_challenge,
    };
  }
}
