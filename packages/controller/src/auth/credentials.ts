// Every credential a person holds, in one table and one code path: console sessions, API keys for the CLI,
// kubeconfig credentials, and short-lived kube tokens. Tokens read `<prefix>_<id>.<secret>` (store/secrets.ts);
// the prefix names the kind, only the secret's SHA-256 is stored, and a credential dies when it expires, is
// revoked, or its user is disabled or deleted. A person of a single sign-on provider holds nothing that
// outlives the maximum age of their session there.
import type { Kysely } from 'kysely';
import { ZtkaError, type Channel } from '@ztka/protocol';
import type { ChangeFeed } from '../org/changes.js';
import type { CredentialsTable, Database } from '../store/schema.js';
import { hashSecret, newSecret, parseToken, verifySecret } from '../store/secrets.js';

export type CredentialKind = CredentialsTable['kind'];

export const CREDENTIAL_PREFIXES: Readonly<Record<CredentialKind, string>> = Object.freeze({
  session: 'ztks',
  api_key: 'ztkk',
  kubeconfig: 'ztkc',
  kube_token: 'ztkt',
  totp_enrolment: 'ztke',
});

/** How long a credential's last use may lag: writing it on every request would make reads into writes. */
const LAST_USED_RESOLUTION_MS = 60_000;
const DUMMY_HASH = hashSecret('ztka-dummy-credential');

/** A credential that checked out, with its holder. */
export interface Principal {
  credentialId: string;
  kind: CredentialKind;
  userId: string;
  username: string;
  orgId: string;
  channel: Channel | null;
  clusterId: string | null;
  /** The browser shell session a kube token belongs to. */
  sessionId: string | null;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
}

export interface IssuedCredential {
  id: string;
  token: string;
  expiresAt: string | null;
}

export interface CredentialView {
  id: string;
  kind: CredentialKind;
  name: string;
  user: string;
  channel: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

interface CredentialRow {
  id: string;
  kind: CredentialKind;
  secretHash: string;
  channel: string | null;
  clusterId: string | null;
  sessionId: string | null;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  userId: string;
  username: string;
  orgId: string;
  disabledAt: number | null;
}

export function kindOfToken(token: string): CredentialKind | undefined {
  const prefix = token.slice(0, token.indexOf('_'));
  return (Object.keys(CREDENTIAL_PREFIXES) as CredentialKind[]).find(
    (k) => CREDENTIAL_PREFIXES[k] === prefix,
  );
}

export class CredentialStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangeFeed,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Issues a credential. `issuedBy` names what vouched for the request: the password hash a login checked,
   * or the caller's own credential. It is issued only while that still stands, so a login or a request in
   * flight when the password is changed, the user disabled or the caller's credential revoked cannot mint a
   * credential that outlives the change (401 instead). The user's row is touched first: on PostgreSQL this
   * waits for a change to the user in progress, and a change that starts later sees the new credential.
   */
  async issue(
    userId: string,
    kind: CredentialKind,
    opts: {
      name: string;
      ttlMs: number | null;
      channel?: Channel;
      clusterId?: string;
      sessionId?: string;
      /** `singleSignOn`: a login the provider vouched for just now; only the user's enabled state is checked. */
      issuedBy?: { passwordHash: string } | { credentialId: string } | { singleSignOn: true };
    },
  ): Promise<IssuedCredential> {
    const secret = newSecret(CREDENTIAL_PREFIXES[kind]);
    const now = this.clock();
    let expiresAt = opts.ttlMs === null ? null : now + opts.ttlMs;
    const { issuedBy } = opts;
    await this.db.transaction().execute(async (trx) => {
      if (issuedBy) {
        let guard = trx
          .updateTable('users')
          .set((eb) => ({ password_hash: eb.ref('password_hash') }))
          .where('id', '=', userId)
          .where('disabled_at', 'is', null);
        if ('passwordHash' in issuedBy) guard = guard.where('password_hash', '=', issuedBy.passwordHash);
        const stands =
          (await guard.executeTakeFirst()).numUpdatedRows > 0n &&
          (!('credentialId' in issuedBy) ||
            (await trx
              .selectFrom('credentials')
              .select('id')
              .where('id', '=', issuedBy.credentialId)
              .where('revoked_at', 'is', null)
              .executeTakeFirst()) !== undefined);
        if (!stands) throw new ZtkaError('unauthorized', 'your credentials changed meanwhile: log in again');
      }
      // A person who logged in with single sign-on holds nothing that outlives their session there.
      const sso = await trx
        .selectFrom('sso_identities')
        .select('session_expires_at')
        .where('user_id', '=', userId)
        .executeTakeFirst();
      if (sso) {
        const deadline = Number(sso.session_expires_at);
        if (deadline <= now)
          throw new ZtkaError('unauthorized', 'your single sign-on session has ended: log in again');
        if (expiresAt === null || expiresAt > deadline) expiresAt = deadline;
      }
      await trx
        .insertInto('credentials')
        .values({
          id: secret.id,
          user_id: userId,
          kind,
          name: opts.name.slice(0, 200),
          secret_hash: hashSecret(secret.secret),
          channel: opts.channel ?? null,
          cluster_id: opts.clusterId ?? null,
          session_id: opts.sessionId ?? null,
          created_at: now,
          expires_at: expiresAt,
          last_used_at: null,
          revoked_at: null,
        })
        .execute();
    });
    return { id: secret.id, token: secret.token, expiresAt: iso(expiresAt) };
  }

  /**
   * The principal behind `token` if it is a live credential of one of `kinds`, else undefined. Unknown ids,
   * wrong secrets, revoked, expired and disabled all look the same to the caller.
   */
  async verify(token: string, kinds: readonly CredentialKind[]): Promise<Principal | undefined> {
    const kind = kindOfToken(token);
    if (!kind || !kinds.includes(kind)) return undefined;
    const parsed = parseToken(token, CREDENTIAL_PREFIXES[kind]);
    if (!parsed) return undefined;
    const row = await this.#load(parsed.id);
    // Hash even for an unknown id, so timing does not tell which ids exist.
    const matches = verifySecret(parsed.secret, row?.secretHash ?? DUMMY_HASH);
    if (!row || !matches || row.kind !== kind) return undefined;
    return this.#live(row);
  }

  /**
   * The principal of a credential already verified once, if it is still live: how a request in flight
   * (a watch, an exec) is checked again after a revocation.
   */
  async reverify(credentialId: string): Promise<Principal | undefined> {
    const row = await this.#load(credentialId);
    return row ? this.#live(row) : undefined;
  }

  #load(id: string): Promise<CredentialRow | undefined> {
    return this.db
      .selectFrom('credentials')
      .innerJoin('users', 'users.id', 'credentials.user_id')
      .select([
        'credentials.id as id',
        'credentials.kind as kind',
        'credentials.secret_hash as secretHash',
        'credentials.channel as channel',
        'credentials.cluster_id as clusterId',
        'credentials.session_id as sessionId',
        'credentials.expires_at as expiresAt',
        'credentials.revoked_at as revokedAt',
        'credentials.last_used_at as lastUsedAt',
        'users.id as userId',
        'users.username as username',
        'users.org_id as orgId',
        'users.disabled_at as disabledAt',
      ])
      .where('credentials.id', '=', id)
      .executeTakeFirst();
  }

  async #live(row: CredentialRow): Promise<Principal | undefined> {
    const now = this.clock();
    if (row.revokedAt !== null || row.disabledAt !== null) return undefined;
    const expiresAt = row.expiresAt === null ? null : Number(row.expiresAt);
    if (expiresAt !== null && expiresAt <= now) return undefined;
    if (row.lastUsedAt === null || now - Number(row.lastUsedAt) > LAST_USED_RESOLUTION_MS) {
      await this.db.updateTable('credentials').set({ last_used_at: now }).where('id', '=', row.id).execute();
    }
    return {
      credentialId: row.id,
      kind: row.kind,
      userId: row.userId,
      username: row.username,
      orgId: row.orgId,
      channel: row.channel === 'cli' || row.channel === 'web-shell' ? row.channel : null,
      clusterId: row.clusterId,
      sessionId: row.sessionId,
      expiresAt,
    };
  }

  /** Revokes one credential; `ownerId` limits it to that user's (a 404 otherwise, not a hint it exists). */
  async revoke(id: string, ownerId?: string): Promise<void> {
    let query = this.db
      .updateTable('credentials')
      .set({ revoked_at: this.clock() })
      .where('id', '=', id)
      .where('revoked_at', 'is', null);
    if (ownerId !== undefined) query = query.where('user_id', '=', ownerId);
    const row = await this.db
      .selectFrom('credentials')
      .select('user_id')
      .where('id', '=', id)
      .executeTakeFirst();
    const result = await query.executeTakeFirst();
    if (!row || result.numUpdatedRows === 0n)
      throw new ZtkaError(
        'not_found',
        `credential ${JSON.stringify(id.slice(0, 40))} not found or already revoked`,
      );
    this.changes.emit({ kind: 'credentials', userId: row.user_id });
  }

  /** Live credentials (not revoked, not expired) of one user, or of every user in the org. */
  async list(orgId: string, userId?: string): Promise<CredentialView[]> {
    let query = this.db
      .selectFrom('credentials')
      .innerJoin('users', 'users.id', 'credentials.user_id')
      .select([
        'credentials.id as id',
        'credentials.kind as kind',
        'credentials.name as name',
        'users.username as user',
        'credentials.channel as channel',
        'credentials.created_at as createdAt',
        'credentials.expires_at as expiresAt',
        'credentials.last_used_at as lastUsedAt',
        'credentials.revoked_at as revokedAt',
      ])
      .where('users.org_id', '=', orgId)
      .where('credentials.revoked_at', 'is', null)
      .where((eb) =>
        eb.or([eb('credentials.expires_at', 'is', null), eb('credentials.expires_at', '>', this.clock())]),
      );
    if (userId !== undefined) query = query.where('credentials.user_id', '=', userId);
    const rows = await query.orderBy('credentials.created_at', 'desc').limit(1000).execute();
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      name: r.name,
      user: r.user,
      channel: r.channel,
      createdAt: iso(r.createdAt) ?? '',
      expiresAt: iso(r.expiresAt),
      lastUsedAt: iso(r.lastUsedAt),
      revoked: r.revokedAt !== null,
    }));
  }

  /** Deletes credentials that expired or were revoked more than `graceMs` ago: they can never work again. */
  async prune(graceMs: number): Promise<number> {
    const before = this.clock() - graceMs;
    const result = await this.db
      .deleteFrom('credentials')
      .where((eb) => eb.or([eb('expires_at', '<', before), eb('revoked_at', '<', before)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
