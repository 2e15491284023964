// Just-in-time service accounts: each person reaches the cluster as their own service account in the JIT
// namespace, bound to the RBAC of their effective role, with a TokenRequest token that never leaves the
// agent. Created on first use, converged when the role changes, kept alive by use, deleted by the sweeper
// when idle past the org's lifetime, and at once when the controller revokes the person.
//
// An account records its owner's stable user id, and one that is not a ztka account or is recorded as
// someone else's is never taken over: the request is refused instead, so that no one acts with another
// person's bindings or deletes their account, whatever name a username maps to.
import {
  ZtkaError,
  isRole,
  protectedNamespaces,
  readOnlyClusterRole,
  bindingsFor,
  READ_ONLY_ROLE,
  type JitBinding,
  type TunnelIdentity,
} from '@ztka/protocol';
import type {
  V1ClusterRoleBinding,
  V1ObjectMeta,
  V1RoleBinding,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { upstreamCall, type UpstreamTarget } from '../upstream.js';
import { MERGE_PATCH, failureOf, kubeApis, statusOf, unless, type KubeApis } from './kube-apis.js';
import { serviceAccountName } from './names.js';
import { labelNamespaces, podCreatingNamespaces } from './pod-security.js';

export const JIT_LABEL = 'ztka.dev/jit';
const SA_LABEL = 'ztka.dev/service-account';
const NS_LABEL = 'ztka.dev/jit-namespace';
const A = {
  user: 'ztka.dev/user',
  /** The owner's stable id: a username can be deleted and taken again by someone else. */
  userId: 'ztka.dev/user-id',
  role: 'ztka.dev/role',
  namespaces: 'ztka.dev/namespaces',
  readOnlyNamespaces: 'ztka.dev/read-only-namespaces',
  createdAt: 'ztka.dev/created-at',
  lastUsedAt: 'ztka.dev/last-used-at',
  expiresAt: 'ztka.dev/expires-at',
} as const;

/** The TokenRequest floor the apiserver enforces, and our ceiling: a leaked token dies within an hour. */
const MIN_TOKEN_S = 600;
const MAX_TOKEN_S = 3600;
/** A cached token is replaced this long before it expires, so no request carries one about to die. */
const TOKEN_MARGIN_MS = 60_000;
const DEFAULT_LIFETIME_S = 8 * 3600;
/**
 * What a new binding must allow before the account's first request goes out. Every role the agent may
 * bind (the manifest's BINDABLE_ROLES) grants it, and a fresh service account holds nothing else that does.
 */
const BINDING_PROBE = { verb: 'get', resource: 'pods' } as const;
/** How long the apiserver's authorizer may take to see new bindings (it reads them from a watch). */
const BINDINGS_SEEN_WITHIN_MS = 5_000;

interface Entry {
  name: string;
  user: string;
  userId: string;
  roleKey: string;
  token: string;
  tokenExpiresAt: number;
  saExpiresAt: number;
  lifetimeMs: number;
  /** When the expiry annotation was last moved forward. */
  extendedAt: number;
}

type Binding = V1ClusterRoleBinding | V1RoleBinding;

/** What the account's bindings (and the labels made for them) depend on: a change makes them anew. */
const roleKeyOf = (id: TunnelIdentity) =>
  [
    id.role,
    (id.namespaces ?? []).join(','),
    (id.readOnlyNamespaces ?? []).join(','),
    id.podSecurity ?? '',
  ].join('|');

export interface JitOptions {
  own: () => Promise<UpstreamTarget>;
  /**
   * Calls as an account, with its own token: after making an account's bindings the agent asks, as the
   * account, until the apiserver's authorizer sees them. Without it, no such wait.
   */
  asAccount?: (token: string) => Promise<UpstreamTarget>;
  namespace: string;
  log: Logger;
  clock?: () => number;
}

/** Whether an existing service account is this person's to use: a ztka account recorded as theirs. */
function ownedBy(meta: V1ObjectMeta, identity: TunnelIdentity): boolean {
  if (meta.labels?.[JIT_LABEL] !== 'true') return false;
  const owner = meta.annotations?.[A.userId];
  // Accounts made before owners were recorded name only the username; a later request records the id.
  if (owner === undefined) return meta.annotations?.[A.user] === identity.user;
  return owner === identity.userId;
}

const takenOver = (name: string, namespace: string) =>
  new ZtkaError(
    'forbidden',
    `the service account "${name}" in the namespace "${namespace}" is not this person's just-in-time ` +
      `account, and ztka will not take it over; a cluster administrator can delete it`,
  );

export class JitServiceAccounts {
  readonly #cache = new Map<string, Entry>();
  readonly #pending = new Map<string, Promise<Entry>>();
  /** One operation at a time per service account: a revocation never interleaves with a creation. */
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #clock: () => number;
  readonly #apis: KubeApis;
  #prepared: Promise<void> | undefined;
  #readOnlyRole: Promise<void> | undefined;

  constructor(private readonly opts: JitOptions) {
    this.#clock = opts.clock ?? Date.now;
    this.#apis = kubeApis(opts.own);
  }

  get namespace(): string {
    return this.opts.namespace;
  }

  /** The bearer token to send for this person, creating or converging their service account if needed. */
  async tokenFor(identity: TunnelIdentity): Promise<string> {
    if (!isRole(identity.role)) throw new Error(`unknown role ${identity.role}`);
    if (!identity.userId) throw new Error('the request names no user id');
    const name = serviceAccountName(identity.user);
    const now = this.#clock();
    const hit = this.#cache.get(name);
    if (
      hit &&
      hit.user === identity.user &&
      hit.userId === identity.userId &&
      hit.roleKey === roleKeyOf(identity) &&
      hit.tokenExpiresAt - now > TOKEN_MARGIN_MS &&
      hit.saExpiresAt > now
    ) {
      this.#touch(hit, identity, now);
      return hit.token;
    }
    let pending = this.#pending.get(name);
    if (!pending) {
      pending = this.#locked(name, () => this.#ensure(name, identity)).finally(() =>
        this.#pending.delete(name),
      );
      this.#pending.set(name, pending);
    }
    return (await pending).token;
  }

  /** Deletes a person's service account and bindings (its tokens die with it). */
  async revoke(username: string): Promise<void> {
    const name = serviceAccountName(username);
    await this.#locked(name, async () => {
      const sa = await this.#get(name);
      // Never anything but a ztka account: the name may be taken by an account of someone else's making.
      if (sa?.labels?.[JIT_LABEL] === 'true') await this.#remove(name, sa.uid);
      else {
        this.#cache.delete(name);
        await this.#converge(name, []);
      }
    });
  }

  #locked<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(name, settled);
    void settled.then(() => {
      if (this.#locks.get(name) === settled) this.#locks.delete(name);
    });
    return next;
  }

  /**
   * Deletes every service account but those of the people in `allowed` (usernames) under their current
   * name and, given `allowedIds`, recorded as one of those people: a deleted person's account survives no
   * reuse of their username, and one made before owners were recorded is made again, with its owner, at
   * its next use.
   */
  async sync(allowed: readonly string[], allowedIds?: readonly string[]): Promise<number> {
    const users = new Set(allowed);
    const ids = allowedIds && new Set(allowedIds);
    const keep = (sa: V1ObjectMeta) => {
      const user = sa.annotations?.[A.user];
      if (user === undefined || !users.has(user) || sa.name !== serviceAccountName(user)) return false;
      const owner = sa.annotations?.[A.userId];
      if (!ids) return true;
      return owner !== undefined && ids.has(owner);
    };
    let removed = 0;
    for (const sa of await this.#list()) {
      if (!keep(sa)) {
        await this.#locked(sa.name, () => this.#remove(sa.name, sa.uid));
        removed++;
      }
    }
    return removed;
  }

  /** Deletes every service account whose expiry has passed. Returns how many. */
  async sweep(): Promise<number> {
    const now = this.#clock();
    let removed = 0;
    for (const sa of await this.#list()) {
      const expires = Date.parse(sa.annotations?.[A.expiresAt] ?? '');
      if (!(expires > now)) {
        await this.#locked(sa.name, () => this.#remove(sa.name, sa.uid));
        removed++;
      }
    }
    return removed;
  }

  /** Namespaces are labelled with plain calls (pod-security.ts); everything else through the typed clients. */
  async #call(method: string, uri: string, body?: object): Promise<{ status: number; text: string }> {
    return upstreamCall(await this.opts.own(), method, uri, body);
  }

  /**
   * The JIT namespace exists: in a cluster the manifest made it, and the agent may not even read
   * namespaces there; beside a cluster (--kubeconfig) the agent makes it when a create says it is missing.
   */
  #createNamespace(): Promise<void> {
    this.#prepared ??= unless(
      this.#apis.core.createNamespace({ body: { metadata: { name: this.opts.namespace } } }),
      [409],
      undefined,
    )
      .then(() => undefined)
      .catch((err: unknown) => {
        this.#prepared = undefined;
        throw err;
      });
    return this.#prepared;
  }

  /** Likewise the read-only ClusterRole: the manifest installs it; a 403 on reading it means just that. */
  #ensureReadOnlyRole(): Promise<void> {
    this.#readOnlyRole ??= (async () => {
      const { rbac } = this.#apis;
      try {
        await rbac.readClusterRole({ name: READ_ONLY_ROLE });
      } catch (err) {
        if (statusOf(err) === 403) return;
        if (statusOf(err) !== 404) throw err;
        await unless(
          rbac.createClusterRole({ body: readOnlyClusterRole({ 'app.kubernetes.io/part-of': 'ztka' }) }),
          [409],
          undefined,
        );
      }
    })().catch((err: unknown) => {
      this.#readOnlyRole = undefined;
      throw err;
    });
    return this.#readOnlyRole;
  }

  async #ensure(name: string, identity: TunnelIdentity): Promise<Entry> {
    const role = identity.role;
    if (!isRole(role)) throw new Error(`unknown role ${role}`);
    const ns = this.opts.namespace;
    const now = this.#clock();
    const lifetimeMs = (identity.saLifetimeSeconds ?? DEFAULT_LIFETIME_S) * 1000;
    const saExpiresAt = now + lifetimeMs;
    // Never a binding in the namespaces that hold the accounts, even if an assignment names one.
    const protect = protectedNamespaces(ns);
    const desired = bindingsFor(role, identity.namespaces, identity.readOnlyNamespaces).filter(
      (b) => b.namespace === undefined || !protect.has(b.namespace),
    );
    if (desired.some((b) => b.clusterRole === READ_ONLY_ROLE)) await this.#ensureReadOnlyRole();
    // Before anything is made or changed: where the org requires a Pod Security level, no namespace is
    // granted unlabelled, and one that cannot be labelled fails the request before the account is touched.
    if (identity.podSecurity)
      await labelNamespaces(
        (method, uri, body) => this.#call(method, uri, body),
        podCreatingNamespaces(desired),
        identity.podSecurity,
      );

    const annotations = {
      [A.user]: identity.user,
      [A.userId]: identity.userId,
      [A.role]: role,
      [A.namespaces]: (identity.namespaces ?? []).join(','),
      [A.readOnlyNamespaces]: (identity.readOnlyNamespaces ?? []).join(','),
      [A.lastUsedAt]: new Date(now).toISOString(),
      [A.expiresAt]: new Date(saExpiresAt).toISOString(),
    };
    const labels = { [JIT_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'ztka' };
    const account: V1ServiceAccount = {
      metadata: { name, labels, annotations: { ...annotations, [A.createdAt]: new Date(now).toISOString() } },
    };
    const { core } = this.#apis;
    /** Whether the account was made now; false when it already existed. */
    const create = () =>
      unless(
        core.createNamespacedServiceAccount({ namespace: ns, body: account }).then(() => true),
        [409],
        false,
      );
    let created: boolean;
    try {
      created = await create();
    } catch (err) {
      // An agent beside its cluster makes the JIT namespace when the first create finds it missing.
      if (statusOf(err) !== 404) throw err;
      await this.#createNamespace();
      created = await create();
    }
    if (!created) {
      const existing = await this.#get(name);
      // Deleted in between (a sweep, a revocation): the next request makes it afresh.
      if (!existing) throw new Error(`service account ${name} was gone while being claimed`);
      if (!ownedBy(existing, identity)) {
        this.opts.log.warn({ serviceAccount: name }, 'service account not taken over: not this person’s');
        throw takenOver(name, ns);
      }
      // Only the account just checked: if it changed meanwhile, the apiserver refuses the patch (409).
      await core.patchNamespacedServiceAccount(
        {
          name,
          namespace: ns,
          body: { metadata: { resourceVersion: existing.resourceVersion, labels, annotations } },
        },
        MERGE_PATCH,
      );
    }
    const made = await this.#converge(name, desired);

    const expirationSeconds = Math.max(MIN_TOKEN_S, Math.min(MAX_TOKEN_S, Math.floor(lifetimeMs / 1000)));
    const tr = await core.createNamespacedServiceAccountToken({
      name,
      namespace: ns,
      // No audiences: the apiserver's own.
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [], expirationSeconds },
      },
    });
    const token = tr.status?.token;
    if (!token) throw new Error(`the TokenRequest for ${name} returned no token`);
    // The authorizer reads bindings from a watch: on a busy apiserver a binding made a moment ago may not
    // count yet, and the person's first request would be refused (403) for no reason they could see.
    if (made.length > 0) await this.#untilSeen(name, token, made);
    const entry: Entry = {
      name,
      user: identity.user,
      userId: identity.userId,
      roleKey: roleKeyOf(identity),
      token,
      tokenExpiresAt: tr.status?.expirationTimestamp?.getTime() || now + expirationSeconds * 1000,
      saExpiresAt,
      lifetimeMs,
      extendedAt: now,
    };
    this.#cache.set(name, entry);
    this.opts.log.info({ serviceAccount: name, role }, 'just-in-time service account ready');
    return entry;
  }

  /** Waits (a while at most) until the apiserver's authorizer counts each of `bindings` for the account. */
  async #untilSeen(name: string, token: string, bindings: readonly JitBinding[]): Promise<void> {
    if (!this.opts.asAccount) return;
    const asAccount = this.opts.asAccount;
    const { authorization } = kubeApis(() => asAccount(token));
    const deadline = Date.now() + BINDINGS_SEEN_WITHIN_MS;
    for (const b of bindings) {
      for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
        let seen: boolean;
        try {
          const review = await authorization.createSelfSubjectAccessReview({
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SelfSubjectAccessReview',
              spec: {
                resourceAttributes: { ...BINDING_PROBE, ...(b.namespace ? { namespace: b.namespace } : {}) },
              },
            },
          });
          seen = review.status?.allowed === true;
        } catch (err) {
          // A cluster that lets accounts ask nothing about themselves cannot be asked: go on as before.
          if (statusOf(err) !== undefined) return;
          throw err;
        }
        if (seen) break;
        if (Date.now() >= deadline) {
          this.opts.log.warn({ serviceAccount: name }, 'the apiserver does not count the new bindings yet');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * Makes the service account's bindings exactly `desired`: missing ones created, others deleted. Returns
   * those it created.
   */
  async #converge(name: string, desired: JitBinding[]): Promise<JitBinding[]> {
    const ns = this.opts.namespace;
    const bindingName = `ztka-jit.${ns}.${name}`;
    const labelSelector = `${SA_LABEL}=${name},${NS_LABEL}=${ns}`;
    const { rbac } = this.#apis;
    const [crbs, rbs] = await Promise.all([
      rbac.listClusterRoleBinding({ labelSelector }),
      rbac.listRoleBindingForAllNamespaces({ labelSelector }),
    ]);
    const existing: Binding[] = [...crbs.items, ...rbs.items];
    const matches = (b: Binding, d: JitBinding) =>
      b.roleRef.name === d.clusterRole && (b.metadata?.namespace ?? undefined) === d.namespace;
    const stale = existing.filter((b) => !desired.some((d) => matches(b, d)));
    const missing = desired.filter((d) => !existing.some((b) => matches(b, d)));
    await Promise.all(stale.map((b) => this.#deleteBinding(b.metadata ?? {})));
    await Promise.all(
      missing.map((d) => {
        const body = {
          metadata: {
            name: bindingName,
            ...(d.namespace ? { namespace: d.namespace } : {}),
            labels: { [SA_LABEL]: name, [NS_LABEL]: ns, 'app.kubernetes.io/managed-by': 'ztka' },
          },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: d.clusterRole },
          subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
        };
        return d.namespace
          ? rbac.createNamespacedRoleBinding({ namespace: d.namespace, body })
          : rbac.createClusterRoleBinding({ body });
      }),
    );
    return missing;
  }

  async #deleteBinding(meta: V1ObjectMeta): Promise<void> {
    const { rbac } = this.#apis;
    const name = meta.name ?? '';
    await unless(
      meta.namespace
        ? rbac.deleteNamespacedRoleBinding({ name, namespace: meta.namespace })
        : rbac.deleteClusterRoleBinding({ name }),
      [404],
      undefined,
    );
  }

  /** The JIT accounts, by name (every account has one). */
  async #list(): Promise<Array<V1ObjectMeta & { name: string }>> {
    const list = await this.#apis.core.listNamespacedServiceAccount({
      namespace: this.opts.namespace,
      labelSelector: `${JIT_LABEL}=true`,
    });
    return list.items.flatMap((i) => (i.metadata?.name ? [{ ...i.metadata, name: i.metadata.name }] : []));
  }

  async #get(name: string): Promise<V1ObjectMeta | undefined> {
    const sa = await unless(
      this.#apis.core.readNamespacedServiceAccount({ name, namespace: this.opts.namespace }),
      [404],
      undefined,
    );
    return sa && (sa.metadata ?? {});
  }

  /** Deletes the account with this uid (the one that was checked, not one made since) and its bindings. */
  async #remove(name: string, uid: string | undefined): Promise<void> {
    this.#cache.delete(name);
    await this.#converge(name, []);
    await unless(
      this.#apis.core.deleteNamespacedServiceAccount({
        name,
        namespace: this.opts.namespace,
        ...(uid ? { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid } } } : {}),
      }),
      // 409: the uid differs, so the account was deleted and made again meanwhile; that one stays.
      [404, 409],
      undefined,
    );
    this.opts.log.info({ serviceAccount: name }, 'just-in-time service account removed');
  }

  /** Use extends the service account's life; written at most every quarter lifetime (and minute). */
  #touch(entry: Entry, identity: TunnelIdentity, now: number): void {
    const lifetimeMs = (identity.saLifetimeSeconds ?? DEFAULT_LIFETIME_S) * 1000;
    if (now - entry.extendedAt < Math.min(60_000, lifetimeMs / 4) && lifetimeMs === entry.lifetimeMs) return;
    entry.extendedAt = now;
    entry.lifetimeMs = lifetimeMs;
    entry.saExpiresAt = now + lifetimeMs;
    const annotations = {
      [A.lastUsedAt]: new Date(now).toISOString(),
      [A.expiresAt]: new Date(entry.saExpiresAt).toISOString(),
    };
    this.#apis.core
      .patchNamespacedServiceAccount(
        { name: entry.name, namespace: this.opts.namespace, body: { metadata: { annotations } } },
        MERGE_PATCH,
      )
      .catch((err: unknown) => {
        // Gone (swept or revoked meanwhile): the next request recreates it.
        this.#cache.delete(entry.name);
        this.opts.log.warn(
          { serviceAccount: entry.name, err: failureOf(err) },
          'could not extend service account',
        );
      });
  }
}
