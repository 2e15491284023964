// TOTP second factors of local users (RFC 6238, as authenticator apps make them: SHA-1, 6 digits, 30 s).
// A code is accepted one step either side of the controller's clock, for clock drift and for the seconds
// it takes to type, and only if its time step is newer than that of the last code the person used: a code
// seen over a shoulder or in a log cannot be used again. The seed is stored sealed, bound to its user.
import type { Kysely } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import { TOTP_DIGITS, TOTP_ISSUER, TOTP_PERIOD_SECONDS, ZtkaError } from '@ztka/protocol';
import type { Database } from '../store/schema.js';
import type { SecretBox } from '../store/sealed.js';

/** Steps either side of now a code may come from. */
export const TOTP_WINDOW = 1;
/** 160 bits, the HMAC-SHA-1 key size RFC 4226 recommends. */
const SECRET_BYTES = 20;

function totpOf(secretBase32: string, username = ''): TOTP {
  return new TOTP({
    issuer: TOTP_ISSUER,
    label: username,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secretBase32),
  });
}

export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** The `otpauth://totp/ztka:<username>?…&issuer=ztka` URI authenticator apps read (often as a QR code). */
export function totpUri(secretBase32: string, username: string): string {
  return totpOf(secretBase32, username).toString();
}

/** The code of the step that `atMs` falls in. */
export function totpCode(secretBase32: string, atMs: number): string {
  return totpOf(secretBase32).generate({ timestamp: atMs });
}

/** The time step `code` belongs to if it is within the window around `nowMs`, else undefined. */
export function totpStep(secretBase32: string, code: string, nowMs: number): number | undefined {
  const totp = totpOf(secretBase32);
  const delta = totp.validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  return delta === null ? undefined : totp.counter({ timestamp: nowMs }) + delta;
}

export type TotpState = 'off' | 'pending' | 'on';

/** The state of a person's TOTP from its row (undefined: none). */
export const totpStateOf = (row: { confirmed_at: number | null } | undefined): TotpState =>
  !row ? 'off' : row.confirmed_at === null ? 'pending' : 'on';
/** Why a code was refused, for the audit record (never the code). */
export type TotpRefusal = 'wrong code' | 'replayed code';
export type TotpCheck = { ok: true } | { ok: false; reason: TotpRefusal };

export class TotpStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly box: SecretBox,
    private readonly clock: () => number = Date.now,
  ) {}

  async state(userId: string): Promise<TotpState> {
    const row = await this.db
      .selectFrom('user_totp')
      .select('confirmed_at')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return totpStateOf(row);
  }

  /**
   * Starts an enrolment with a fresh seed, replacing a pending one. Refused while one is on: replacing it
   * would let whoever holds a session of the person drop the factor that guards their password.
   */
  async begin(userId: string, username: string): Promise<{ secret: string; uri: string }> {
    const secret = newTotpSecret();
    const sealed = this.box.seal(secret, context(userId));
    const now = this.clock();
    const replaced = await this.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('user_totp')
        .where('user_id', '=', userId)
        .where('confirmed_at', 'is', null)
        .execute();
      const result = await trx
        .insertInto('user_totp')
        .values({ user_id: userId, secret: sealed, confirmed_at: null, last_step: null, created_at: now })
        .onConflict((oc) => oc.column('user_id').doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    });
    if (!replaced)
      throw new ZtkaError(
        'conflict',
        'two-factor authentication is already on for you: remove it first (with a current code)',
      );
    return { secret, uri: totpUri(secret, username) };
  }

  /** Turns a pending enrolment on if `code` is valid for its seed now. */
  async confirm(userId: string, code: string): Promise<TotpCheck> {
    return this.#use(userId, code, 'pending');
  }

  /** Whether `code` is a valid, unused code of the person's TOTP (which must be on); uses it up if so. */
  async check(userId: string, code: string): Promise<TotpCheck> {
    return this.#use(userId, code, 'on');
  }

  /** Removes the person's TOTP, on or pending; false if there was none. */
  async remove(userId: string): Promise<boolean> {
    const result = await this.db.deleteFrom('user_totp').where('user_id', '=', userId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async #use(userId: string, code: string, state: 'pending' | 'on'): Promise<TotpCheck> {
    const row = await this.db
      .selectFrom('user_totp')
      .select(['secret', 'confirmed_at'])
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row || (row.confirmed_at === null) !== (state === 'pending'))
      return { ok: false, reason: 'wrong code' };
    const now = this.clock();
    const step = totpStep(this.box.open(row.secret, context(userId)), code, now);
    if (step === undefined) return { ok: false, reason: 'wrong code' };
    // One conditional write: of two requests with the same code, only one finds the step still unused.
    let update = this.db
      .updateTable('user_totp')
      .set({ last_step: step, ...(state === 'pending' ? { confirmed_at: now } : {}) })
      .where('user_id', '=', userId)
      // The seed checked above: a new enrolment meanwhile is not confirmed by a code of the old one.
      .where('secret', '=', row.secret)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]));
    update =
      state === 'pending'
        ? update.where('confirmed_at', 'is', null)
        : update.where('confirmed_at', 'is not', null);
    const result = await update.executeTakeFirst();
    return result.numUpdatedRows > 0n ? { ok: true } : { ok: false, reason: 'replayed code' };
  }
}

const context = (userId: string) => `totp:${userId}`;
