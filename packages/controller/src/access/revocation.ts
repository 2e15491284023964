// Revocation reaches the clusters at once. When a person is disabled, deleted or their assignments change,
// every connected agent is told to delete their service account (the next request, if still allowed,
// recreates it with the current role), and every request of theirs still in flight — a watch, an exec — is
// checked again and ended if it is no longer allowed as it was. An agent that connects is told who may
// still have a service account, so one that was offline during a revocation converges.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { CONTROL_PATHS } from '@ztka/protocol';
import type { ChangeFeed, OrgChange } from '../org/changes.js';
import type { Database } from '../store/schema.js';
import type { AgentSession, TunnelRegistry } from '../tunnel/session.js';
import type { Access } from './authorize.js';
import { effectiveAccess } from './effective.js';

/** Something in flight on the proxy that can be re-checked and ended. */
export interface InflightCheck {
  recheck(): Promise<void>;
}

export class Revocations {
  readonly #inflight = new Set<InflightCheck>();
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

  /** Registers an in-flight request; call the returned function when it ends. */
  track(check: InflightCheck): () => void {
    this.#inflight.add(check);
    return () => this.#inflight.delete(check);
  }

  #onChange(change: OrgChange): void {
    if (change.kind === 'user' && (change.what === 'disabled' || change.what === 'deleted'))
      void this.#revoke([change.username]);
    else if (change.kind === 'assignments') {
      if (change.userIds === 'all') for (const s of this.tunnels.open()) void this.#sync(s);
      else void this.#usernames(change.userIds).then((names) => this.#revoke(names));
    } else if (change.kind === 'clusters') {
      for (const s of this.tunnels.open()) void this.#sync(s);
    }
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

  async #usernames(userIds: readonly string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('users')
      .select('username')
      .where('id', 'in', [...userIds])
      .execute();
    return rows.map((r) => r.username);
  }

  async #revoke(usernames: string[]): Promise<void> {
    if (usernames.length === 0) return;
    await Promise.all(
      this.tunnels.open().map((session) =>
        session.control(CONTROL_PATHS.revoke, { users: usernames }).catch((err: unknown) =>
          // The agent converges at its next connect (sync) and, meanwhile, no request reaches it as them.
          this.log.warn({ cluster: session.info.cluster, err: String(err) }, 'revocation not delivered'),
        ),
      ),
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
      const allowed: string[] = [];
      for (const u of users)
        if (effectiveAccess(await this.access.assignments(u.id), scope.projectId)) allowed.push(u.username);
      await session.control(CONTROL_PATHS.sync, { users: allowed });
    } catch (err) {
      this.log.warn({ cluster: session.info.cluster, err: String(err) }, 'service-account sync failed');
    }
  }
}
