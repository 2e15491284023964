// Revocation reaches the clusters at once. When a person is disabled or deleted, their password is changed
// (which revokes every credential they hold) or their assignments change, every connected agent is told to
// delete their service account (the next request, if still allowed, recreates it with the current role),
// and every request of theirs still in flight — a watch, an exec — is checked again and ended if it is no
// longer allowed as it was; each also ends when the credential that opened it expires, as a new request
// with it would be refused. An agent that connects is told who may still have a service account, so one
// that was offline during a revocation converges.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { CONTROL_PATHS, type TunnelIdentity } from '@ztka/protocol';
import type { Principal } from '../auth/credentials.js';
import type { ChangeFeed, OrgChange } from '../org/changes.js';
import type { Database } from '../store/schema.js';
import type { AgentSession, TunnelRegistry } from '../tunnel/session.js';
import type { Access } from './authorize.js';
import { effectiveAccess } from './effective.js';
import { atExpiry } from './expiry.js';

/** Something in flight on the proxy that can be re-checked and ended. */
interface InflightCheck {
  /** When the credential that opened it expires (epoch ms), or null if it never does. */
  expiresAt: number | null;
  /** Ends it because that credential has expired. */
  expire(): void;
  /** Checks it against the org's current state, and ends it if it is no longer allowed as it was. */
  recheck(): Promise<void>;
}

export class Revocations {
  readonly #inflight = new Set<InflightCheck>();
  readonly #deliveries = new Set<Promise<void>>();
  #recheckQueued = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly access: Access,
    private readonly tunnels: TunnelRegistry,
    private readonly log: Logger,
    changes: ChangeFeed,
  ) {
    changes.on((change) => this.#onChange(change));
    tunnels.onAdd((session) => void this.#sync(session));
  }

  /**
   * Resolves when every revocation sent so far has been answered by its agent (or failed). The API awaits
   * it before answering a change, so when an admin sees "disabled", the clusters have already acted.
   */
  async idle(): Promise<void> {
    while (this.#deliveries.size > 0) await Promise.all([...this.#deliveries]);
  }

  #deliver(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => this.log.warn({ err: String(err) }, 'revocation failed'));
    this.#deliveries.add(tracked);
    void tracked.then(() => this.#deliveries.delete(tracked));
  }

  /** Registers an in-flight request; call the returned function when it ends. */
  #track(check: InflightCheck): () => void {
    this.#inflight.add(check);
    const cancel = atExpiry(check.expiresAt, () => {
      this.#inflight.delete(check);
      check.expire();
    });
    return () => {
      cancel();
      this.#inflight.delete(check);
    };
  }

  /**
   * Holds a proxied request in flight to what it was granted: it ends when its credential expires, or when
   * a change leaves its principal without the same role in the same namespaces on its cluster. Other fields
   * of the grant (the service account's lifetime) may change freely. Returns the function to call when it
   * ends.
   */
  trackRequest(
    request: { principal: Principal; cluster: string; identity: TunnelIdentity },
    end: (reason: string) => void,
  ): () => void {
    const lane = (i: TunnelIdentity) => JSON.stringify([i.role, i.namespaces, i.readOnlyNamespaces]);
    return this.#track({
      expiresAt: request.principal.expiresAt,
      expire: () => end('the credential that opened it expired'),
      recheck: async () => {
        const now = await this.access.reauthorize(request.principal, request.cluster);
        if (!now || lane(now) !== lane(request.identity)) end('access revoked while it was open');
      },
    });
  }

  #onChange(change: OrgChange): void {
    if (change.kind === 'user' && change.what !== 'enabled') this.#deliver(this.#revoke([change.username]));
    else if (change.kind === 'assignments') {
      if (change.userIds === 'all') for (const s of this.tunnels.open()) this.#deliver(this.#sync(s));
      else for (const s of this.tunnels.open()) this.#deliver(this.#revokeLost(s, change.userIds));
    }
    // A cluster created or deleted changes nobody's access to the others: no agent needs telling (a
    // deleted cluster's tunnel is closed). Syncing every agent here made registering N clusters cost N².
    // Whatever changed, requests in flight are held to the new state (a revoked credential, a channel
    // switched off, a lost role).
    if (!this.#recheckQueued) {
      this.#recheckQueued = true;
      setImmediate(() => {
        this.#recheckQueued = false;
        for (const check of this.#inflight) void check.recheck();
      });
    }
  }

  /**
   * After an assignment change: people who no longer reach this cluster lose their account now. Those who
   * still do keep it; their next request converges its bindings to the new role before it is used.
   */
  async #revokeLost(session: AgentSession, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    const scope = await this.access.clusterScope(session.info.cluster);
    if (!scope) return;
    const users = await this.db
      .selectFrom('users')
      .select(['id', 'username'])
      .where('id', 'in', [...userIds])
      .execute();
    const lost: string[] = [];
    for (const u of users)
      if (!effectiveAccess(await this.access.assignments(u.id), scope.projectId)) lost.push(u.username);
    await this.#send(session, lost);
  }

  async #revoke(usernames: string[]): Promise<void> {
    await Promise.all(this.tunnels.open().map((session) => this.#send(session, usernames)));
  }

  async #send(session: AgentSession, usernames: string[]): Promise<void> {
    if (usernames.length === 0) return;
    await session.control(CONTROL_PATHS.revoke, { users: usernames }).catch((err: unknown) =>
      // The agent converges at its next connect (sync) and, meanwhile, no request reaches it as them.
      this.log.warn({ cluster: session.info.cluster, err: String(err) }, 'revocation not delivered'),
    );
  }

  /** Tells one agent which people may still hold a service account on its cluster. */
  async #sync(session: AgentSession): Promise<void> {
    try {
      const scope = await this.access.clusterScope(session.info.cluster);
      if (!scope) return;
      const users = await this.db
        .selectFrom('users')
        .select(['id', 'username'])
        .where('org_id', '=', scope.orgId)
        .where('disabled_at', 'is', null)
        .execute();
      const allowed: { id: string; username: string }[] = [];
      for (const u of users)
        if (effectiveAccess(await this.access.assignments(u.id), scope.projectId)) allowed.push(u);
      await session.control(CONTROL_PATHS.sync, {
        users: allowed.map((u) => u.username),
        userIds: allowed.map((u) => u.id),
      });
    } catch (err) {
      this.log.warn({ cluster: session.info.cluster, err: String(err) }, 'service-account sync failed');
    }
  }
}
