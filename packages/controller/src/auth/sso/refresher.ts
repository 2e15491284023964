// Asks each provider, at a fixed interval, what it says of the people logged in through it now. Groups it no
// longer gives are taken away (their roles with them, streams and service accounts as for any revocation);
// a refresh the provider refuses (the person was disabled or signed out there) or an email that left the
// allowed domains ends every credential the person holds. A provider that cannot be reached is asked again
// next time: the session lives on, at most to its maximum age, which bounds how stale a grant can be.
import type { Logger } from 'pino';
import { SSO_EVENTS } from '@ztka/protocol';
import type { SystemEvents } from '../../audit/system-events.js';
import { personOf } from './claims.js';
import type { IdentityDue, SsoIdentities } from './identities.js';
import { OidcError, type OidcClients } from './oidc.js';
import type { SsoProviderStore } from './providers.js';

export class SsoRefresher {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      providers: SsoProviderStore;
      identities: SsoIdentities;
      clients: OidcClients;
      events: SystemEvents;
      log: Logger;
      intervalMs: number;
    },
  ) {}

  start(): void {
    // Ticks at a fraction of the interval, so a session is refreshed at most a little after it is due.
    const tick = Math.max(250, Math.min(this.deps.intervalMs / 4, 30_000));
    this.#timer = setInterval(() => void this.runOnce(), tick);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** One pass over the sessions due; passes never overlap. */
  runOnce(): Promise<void> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(): Promise<void> {
    try {
      for (const due of await this.deps.identities.due(this.deps.intervalMs)) await this.#refresh(due);
    } catch (err) {
      this.deps.log.warn({ err: String(err) }, 'single sign-on refresh pass failed');
    }
  }

  async #refresh(due: IdentityDue): Promise<void> {
    const { identities, events } = this.deps;
    const provider = await this.deps.providers.byId(due.providerId);
    if (!provider) return;
    const base = { provider: provider.name, subject: due.subject };
    try {
      const result = await this.deps.clients.refresh(provider, due.refreshToken, due.subject);
      const person = personOf(result.claims, provider);
      const sync = await identities.refreshed(provider, due, person, result.refreshToken ?? due.refreshToken);
      if (sync.added.length > 0 || sync.removed.length > 0)
        await events.record({
          kind: SSO_EVENTS.groupsChanged,
          orgId: due.orgId,
          actor: due.username,
          detail: { ...base, at: 'refresh', added: sync.added, removed: sync.removed, groups: sync.groups },
        });
    } catch (err) {
      const why = err instanceof OidcError ? err : new OidcError('refresh_failed', String(err).slice(0, 300));
      // Refused by the provider, or the person is no longer who may log in: the session ends now.
      const ends =
        why.refusedByProvider || why.reason.startsWith('email_') || why.reason === 'invalid_username';
      if (ends) {
        await identities.end(due.userId, due.username);
        await events.record({
          kind: SSO_EVENTS.sessionEnded,
          orgId: due.orgId,
          actor: due.username,
          detail: { ...base, reason: why.reason, message: why.message },
        });
      } else {
        await identities.attempted(due.id);
        await events.record({
          kind: SSO_EVENTS.refreshFailed,
          orgId: due.orgId,
          actor: due.username,
          detail: { ...base, reason: why.reason, message: why.message },
        });
      }
    }
  }
}
