// The cluster registry's contract, one suite for every database: clusters, bootstrap tokens and agent
// credentials, run by clusters/sqlite.test.ts on SQLite and by the PostgreSQL end-to-end test on a real
// PostgreSQL. Each test gets an empty database of its own (cluster names are unique across a controller).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { Kysely } from 'kysely';
import {
  ZtkaError,
  agentCredentialId,
  generateAgentKey,
  parseAgentPublicKey,
  type ErrorCode,
} from '@ztka/protocol';
import { orgWithProject, type ContractStore } from '../store/contract.js';
import type { Database } from '../store/schema.js';
import { parseToken } from '../store/secrets.js';
import { AGENT_CREDENTIAL_PREFIX, AgentCredentials } from './agent-credentials.js';
import {
  BOOTSTRAP_TOKEN_PREFIX,
  BootstrapTokens,
  DEFAULT_BOOTSTRAP_TOKEN_TTL_MS,
} from './bootstrap-tokens.js';
import { ClusterStore, type ClusterView } from './clusters.js';

// Not a round number of seconds, and well past 2^31: an int4 or a float would show here.
export const T0 = Date.UTC(2025, 0, 1, 12, 34, 56, 789);
const HOUR = 60 * 60 * 1000;
export const UID_A = '3f6b1a52-8c1e-4f7a-9d2b-0a1b2c3d4e5f';
export const UID_B = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
/** An agent's public key: registration binds the credential to it. */
export const KEY = generateAgentKey().publicKey;
export const INVALID_TOKEN_MESSAGE = 'the bootstrap token is invalid, expired or already used';
const iso = (ms: number) => new Date(ms).toISOString();

/** A cluster as it is right after it was created at T0: no agent has registered yet. */
const created = (name: string, org: string, project: string): ClusterView => ({
  name,
  org,
  project,
  identity: null,
  connected: false,
  lastSeenAt: null,
  agentVersion: null,
  kubeVersion: null,
  createdAt: iso(T0),
});

export interface RegistryFixture {
  db: Kysely<Database>;
  clusters: ClusterStore;
  tokens: BootstrapTokens;
  agents: AgentCredentials;
  clock: { now: number };
}

/** The three stores on one database and one clock the test moves, with the project `web` of org `default`. */
export async function registryFixture(db: Kysely<Database>, ttlMs?: number): Promise<RegistryFixture> {
  const clock = { now: T0 };
  const now = () => clock.now;
  const tokens = new BootstrapTokens(db, { clock: now, ...(ttlMs === undefined ? {} : { ttlMs }) });
  await orgWithProject(db, 'default', 'web', now);
  return {
    db,
    clock,
    tokens,
    clusters: new ClusterStore(db, tokens, now),
    agents: new AgentCredentials(db, now),
  };
}

export function isZtkaError(code: ErrorCode) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ZtkaError, `expected ZtkaError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

export function isInvalidToken(err: unknown): boolean {
  assert.ok(err instanceof ZtkaError, `expected ZtkaError, got ${String(err)}`);
  assert.equal(err.code, 'unauthorized');
  assert.equal(err.message, INVALID_TOKEN_MESSAGE);
  return true;
}

export function clusterStoreContract(name: string, open: () => Promise<ContractStore>): void {
  describe(`cluster registry contract: ${name}`, () => {
    async function fixture(t: TestContext, ttlMs?: number): Promise<RegistryFixture> {
      const store = await open();
      t.after(() => store.close());
      return registryFixture(store.db, ttlMs);
    }

    test('a new cluster comes with a bootstrap token expiring after 24h', async (t) => {
      const { clusters } = await fixture(t);
      const { cluster, bootstrapToken } = await clusters.create({ project: 'web', name: 'prod-eu-1' });
      assert.deepEqual(cluster, created('prod-eu-1', 'default', 'web'));
      assert.ok(parseToken(bootstrapToken.token, BOOTSTRAP_TOKEN_PREFIX));
      assert.equal(bootstrapToken.expiresAt, new Date(T0 + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS).toISOString());
      assert.equal(DEFAULT_BOOTSTRAP_TOKEN_TTL_MS, 24 * 60 * 60 * 1000);
      assert.deepEqual(await clusters.get('prod-eu-1'), cluster);
      assert.equal(await clusters.get('nope'), undefined);
    });

    test('a cluster name must be a DNS-1123 label', async (t) => {
      const { clusters } = await fixture(t);
      for (const name of ['', 'Prod', 'prod_1', '-prod', 'prod-', 'prod.eu', 'a'.repeat(64), 'pröd', 'a b']) {
        await assert.rejects(clusters.create({ project: 'web', name }), (err: unknown) => {
          assert.ok(err instanceof ZtkaError);
          assert.equal(err.code, 'bad_request');
          assert.match(err.message, /not a DNS-1123 label/);
          return true;
        });
      }
      for (const name of ['a', '0', 'a'.repeat(63), 'prod-eu-1', '1-2']) {
        await clusters.create({ project: 'web', name });
      }
      assert.equal((await clusters.list()).length, 5);
    });

    test('a duplicate name is refused, even in another project, and so is an unknown project', async (t) => {
      const { clusters, db } = await fixture(t);
      await clusters.create({ project: 'web', name: 'prod' });
      await assert.rejects(clusters.create({ project: 'web', name: 'prod' }), isZtkaError('conflict'));
      await orgWithProject(db, 'globex', 'web');
      await assert.rejects(
        clusters.create({ org: 'globex', project: 'web', name: 'prod' }),
        isZtkaError('conflict'),
      );
      await assert.rejects(clusters.create({ project: 'nope', name: 'x' }), isZtkaError('not_found'));
      await assert.rejects(
        clusters.create({ org: 'nope', project: 'web', name: 'x' }),
        isZtkaError('not_found'),
      );
      // The failed attempts left nothing behind.
      assert.deepEqual(
        (await clusters.list()).map((c) => c.name),
        ['prod'],
      );
    });

    test('a bootstrap token is exchanged once for a credential that authenticates as its cluster', async (t) => {
      const { clusters, tokens, agents } = await fixture(t);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      const exchanged = await tokens.exchange(bootstrapToken.token, UID_A, KEY);
      assert.equal(exchanged.clusterName, 'alpha');
      assert.ok(parseToken(exchanged.agentCredential, AGENT_CREDENTIAL_PREFIX));

      const agent = await agents.authenticateAgent(exchanged.agentCredential);
      assert.equal(agent?.clusterName, 'alpha');
      assert.equal(agent?.identity, UID_A);
      assert.equal((await clusters.get('alpha'))?.identity, UID_A);

      // Replaying the token fails, with the same error as any other bad token.
      await assert.rejects(tokens.exchange(bootstrapToken.token, UID_A, KEY), isInvalidToken);
    });

    test('concurrent exchanges of one token: exactly one wins', async (t) => {
      const { clusters, tokens } = await fixture(t);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => tokens.exchange(bootstrapToken.token, UID_A, KEY)),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 7);
      for (const r of lost) isInvalidToken(r.reason);
    });

    test('an expired token is refused', async (t) => {
      const { clusters, tokens, clock } = await fixture(t, 60_000);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      assert.equal(bootstrapToken.expiresAt, new Date(T0 + 60_000).toISOString());
      clock.now = T0 + 60_000; // expiry is exclusive: at expires_at the token is dead
      await assert.rejects(tokens.exchange(bootstrapToken.token, UID_A, KEY), isInvalidToken);
      clock.now = T0 + 59_999;
      // The refused attempt did not consume it: just before expiry it still works.
      assert.equal((await tokens.exchange(bootstrapToken.token, UID_A, KEY)).clusterName, 'alpha');
    });

    test('the default TTL is 24h', async (t) => {
      const { clusters, tokens, clock } = await fixture(t);
      const a = await clusters.create({ project: 'web', name: 'alpha' });
      const b = await clusters.create({ project: 'web', name: 'beta' });
      clock.now = T0 + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS;
      await assert.rejects(tokens.exchange(a.bootstrapToken.token, UID_A, KEY), isInvalidToken);
      clock.now = T0 + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS - 1;
      await tokens.exchange(b.bootstrapToken.token, UID_B, KEY);
    });

    test('unknown, tampered and malformed tokens are refused with one indistinguishable error', async (t) => {
      const { clusters, tokens } = await fixture(t);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      const token = bootstrapToken.token;
      const parsed = parseToken(token, BOOTSTRAP_TOKEN_PREFIX);
      assert.ok(parsed);
      const flipped = parsed.secret.startsWith('A')
        ? `B${parsed.secret.slice(1)}`
        : `A${parsed.secret.slice(1)}`;
      const otherId = parsed.id.startsWith('A') ? `B${parsed.id.slice(1)}` : `A${parsed.id.slice(1)}`;
      const bad = [
        '',
        'nonsense',
        `${BOOTSTRAP_TOKEN_PREFIX}_${parsed.id}.${flipped}`, // right id, wrong secret
        `${BOOTSTRAP_TOKEN_PREFIX}_${otherId}.${parsed.secret}`, // unknown id
        `${AGENT_CREDENTIAL_PREFIX}_${parsed.id}.${parsed.secret}`, // wrong kind
        `${token}x`,
        token.replace('.', ''),
        'x'.repeat(1_000_000),
        `${token.slice(0, -1)}é`,
      ];
      for (const attempt of bad) {
        await assert.rejects(tokens.exchange(attempt, UID_A, KEY), isInvalidToken);
      }
      // None of that consumed the real token.
      assert.equal((await tokens.exchange(token, UID_A, KEY)).clusterName, 'alpha');
    });

    test('identity: bound on first exchange; a token of cluster A used from cluster B fails', async (t) => {
      const { clusters, tokens, agents } = await fixture(t);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      await tokens.exchange(bootstrapToken.token, UID_A, KEY);

      // A new token for alpha, presented from another Kubernetes cluster.
      const second = await tokens.issue('alpha');
      await assert.rejects(tokens.exchange(second.token, UID_B, KEY), isZtkaError('forbidden'));
      const cluster = await clusters.get('alpha');
      assert.equal(cluster?.identity, UID_A);
      // The token presented from the wrong cluster is burnt: not even the right cluster can use it now.
      await assert.rejects(tokens.exchange(second.token, UID_A, KEY), isInvalidToken);

      // From the right cluster a fresh token works and rotates the credential.
      const third = await tokens.issue('alpha');
      const again = await tokens.exchange(third.token, UID_A, KEY);
      assert.equal((await agents.authenticateAgent(again.agentCredential))?.identity, UID_A);
    });

    test('a malformed identity is refused without consuming the token', async (t) => {
      const { clusters, tokens } = await fixture(t);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      for (const identity of ['', ' ', 'a'.repeat(129), 'uid with spaces', 'ü']) {
        await assert.rejects(
          tokens.exchange(bootstrapToken.token, identity, KEY),
          isZtkaError('bad_request'),
        );
      }
      await tokens.exchange(bootstrapToken.token, UID_A, KEY);
    });

    test('a new bootstrap token revokes the earlier unused one; unknown clusters get none', async (t) => {
      const { clusters, tokens, clock } = await fixture(t);
      const { bootstrapToken: first } = await clusters.create({ project: 'web', name: 'alpha' });
      clock.now = T0 + 1000;
      const second = await tokens.issue('alpha');
      assert.notEqual(second.token, first.token);
      assert.equal(second.expiresAt, new Date(T0 + 1000 + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS).toISOString());
      await assert.rejects(tokens.exchange(first.token, UID_A, KEY), isInvalidToken);
      assert.equal((await tokens.exchange(second.token, UID_A, KEY)).clusterName, 'alpha');
      await assert.rejects(tokens.issue('nope'), isZtkaError('not_found'));
    });

    test("the credential is bound to the agent's public key; none, or one not Ed25519, exchanges nothing", async (t) => {
      const { clusters, tokens, agents, db } = await fixture(t);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .publicKey.export({ type: 'spki', format: 'der' })
        .toString('base64url');
      for (const bad of ['', 'AAAA', p256, generateAgentKey().privateKeyPem, undefined as unknown as string])
        await assert.rejects(tokens.exchange(bootstrapToken.token, UID_A, bad), isZtkaError('bad_request'));
      // Refused before the token is spent.
      const { agentCredential } = await tokens.exchange(bootstrapToken.token, UID_A, KEY);
      const agent = await agents.authenticateAgent(agentCredential);
      assert.equal(agent?.publicKey, KEY);
      assert.equal(agent?.credentialId, parseToken(agentCredential, AGENT_CREDENTIAL_PREFIX)?.id);

      // A credential issued before agents held keys authenticates with no key, for the caller to refuse.
      await db.updateTable('agent_credentials').set({ public_key: null }).execute();
      assert.equal((await agents.authenticateAgent(agentCredential))?.publicKey, null);
    });

    test('each key proof nonce is accepted once, until it expires, and is gone with its credential', async (t) => {
      const { clusters, tokens, agents, db, clock } = await fixture(t);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      const { agentCredential } = await tokens.exchange(bootstrapToken.token, UID_A, KEY);
      const id = parseToken(agentCredential, AGENT_CREDENTIAL_PREFIX)?.id ?? '';
      const expires = T0 + 60_000;
      assert.equal(await agents.consumeAgentProof(id, 'n1', expires), true);
      assert.equal(await agents.consumeAgentProof(id, 'n1', expires), false);
      assert.equal(await agents.consumeAgentProof(id, 'n2', expires), true);
      // Concurrent uses of one nonce: exactly one is first.
      const raced = await Promise.all(
        Array.from({ length: 8 }, () => agents.consumeAgentProof(id, 'n3', expires)),
      );
      assert.equal(raced.filter(Boolean).length, 1);

      // Past its expiry a nonce is pruned (its proof is refused by its date by then).
      clock.now = expires + 1;
      assert.equal(await agents.consumeAgentProof(id, 'n4', clock.now + 60_000), true);
      const kept = await db.selectFrom('agent_proof_nonces').select('nonce').execute();
      assert.deepEqual(
        kept.map((r) => r.nonce),
        ['n4'],
      );
      await clusters.delete('alpha');
      assert.deepEqual(await db.selectFrom('agent_proof_nonces').selectAll().execute(), []);
    });

    test('a credential of cluster A authenticates only as A', async (t) => {
      const { clusters, tokens, agents } = await fixture(t);
      const a = await clusters.create({ project: 'web', name: 'alpha' });
      const b = await clusters.create({ project: 'web', name: 'beta' });
      const credA = (await tokens.exchange(a.bootstrapToken.token, UID_A, KEY)).agentCredential;
      const credB = (await tokens.exchange(b.bootstrapToken.token, UID_B, KEY)).agentCredential;
      const agentA = await agents.authenticateAgent(credA);
      const agentB = await agents.authenticateAgent(credB);
      assert.deepEqual(
        { name: agentA?.clusterName, identity: agentA?.identity },
        { name: 'alpha', identity: UID_A },
      );
      assert.deepEqual(
        { name: agentB?.clusterName, identity: agentB?.identity },
        { name: 'beta', identity: UID_B },
      );
      assert.notEqual(agentA?.clusterId, agentB?.clusterId);

      // Mixing A's id with B's secret (or vice versa) authenticates as nobody.
      const pa = parseToken(credA, AGENT_CREDENTIAL_PREFIX);
      const pb = parseToken(credB, AGENT_CREDENTIAL_PREFIX);
      assert.ok(pa && pb);
      assert.equal(
        await agents.authenticateAgent(`${AGENT_CREDENTIAL_PREFIX}_${pa.id}.${pb.secret}`),
        undefined,
      );
      assert.equal(
        await agents.authenticateAgent(`${AGENT_CREDENTIAL_PREFIX}_${pb.id}.${pa.secret}`),
        undefined,
      );
      // A bootstrap token is not a credential, and junk is nothing.
      const c = await clusters.create({ project: 'web', name: 'gamma' });
      assert.equal(await agents.authenticateAgent(c.bootstrapToken.token), undefined);
      for (const junk of ['', 'ztka_', 'x'.repeat(100_000), `${credA} `, `${credA.slice(0, -1)}💥`]) {
        assert.equal(await agents.authenticateAgent(junk), undefined);
      }
    });

    test('re-bootstrapping rotates the credential; deleting the cluster revokes it', async (t) => {
      const { clusters, tokens, agents } = await fixture(t);
      const { bootstrapToken } = await clusters.create({ project: 'web', name: 'alpha' });
      const first = (await tokens.exchange(bootstrapToken.token, UID_A, KEY)).agentCredential;
      assert.ok(await agents.authenticateAgent(first));

      const second = (await tokens.exchange((await tokens.issue('alpha')).token, UID_A, KEY)).agentCredential;
      assert.equal(await agents.authenticateAgent(first), undefined);
      assert.equal((await agents.authenticateAgent(second))?.clusterName, 'alpha');

      assert.equal(await clusters.delete('alpha'), true);
      assert.equal(await agents.authenticateAgent(second), undefined);
      assert.equal(await clusters.delete('alpha'), false);
    });

    test('status marks are visible through get and list', async (t) => {
      const { clusters, clock } = await fixture(t);
      await clusters.create({ project: 'web', name: 'alpha' });
      clock.now = T0 + 10_000;
      await clusters.recordAgent('alpha', { agentVersion: '0.1.0', kubeVersion: 'v1.31.2' });
      assert.deepEqual(await clusters.get('alpha'), {
        name: 'alpha',
        org: 'default',
        project: 'web',
        identity: null,
        // Connected only while a replica holds its tunnel (peers/locations.test.ts).
        connected: false,
        lastSeenAt: new Date(T0 + 10_000).toISOString(),
        agentVersion: '0.1.0',
        kubeVersion: 'v1.31.2',
        createdAt: new Date(T0).toISOString(),
      });

      clock.now = T0 + 20_000;
      await clusters.markSeen('alpha');
      let view = await clusters.get('alpha');
      assert.equal(view?.lastSeenAt, new Date(T0 + 20_000).toISOString());

      // Reported versions are normalised, never refused: a tunnel must not fail over a missing header.
      await clusters.recordAgent('alpha', { agentVersion: '', kubeVersion: ` ${'v'.repeat(300)} ` });
      view = await clusters.get('alpha');
      assert.equal(view?.agentVersion, null);
      assert.equal(view?.kubeVersion, 'v'.repeat(256));

      // Marks for an unknown cluster are no-ops (and create nothing).
      await clusters.markSeen('nope');
      await clusters.recordAgent('nope', { agentVersion: '1', kubeVersion: '1' });
      assert.equal(await clusters.get('nope'), undefined);
      assert.equal((await clusters.list()).length, 1);
    });

    test('list filters by project and orders by name', async (t) => {
      const { clusters, db } = await fixture(t);
      await orgWithProject(db, 'default', 'staging');
      await orgWithProject(db, 'acme', 'web');
      await clusters.create({ project: 'web', name: 'zulu' });
      await clusters.create({ project: 'staging', name: 'mike' });
      await clusters.create({ project: 'web', name: 'alpha' });
      await clusters.create({ org: 'acme', project: 'web', name: 'kilo' });
      assert.deepEqual(
        (await clusters.list()).map((c) => [c.name, c.org, c.project]),
        [
          ['alpha', 'default', 'web'],
          ['kilo', 'acme', 'web'],
          ['mike', 'default', 'staging'],
          ['zulu', 'default', 'web'],
        ],
      );
      assert.deepEqual(
        (await clusters.list('web')).map((c) => c.name),
        ['alpha', 'kilo', 'zulu'],
      );
      assert.deepEqual(
        (await clusters.list('web', 'default')).map((c) => c.name),
        ['alpha', 'zulu'],
      );
      assert.deepEqual(
        (await clusters.list('staging')).map((c) => c.name),
        ['mike'],
      );
      assert.deepEqual(await clusters.list('no-such-project'), []);
    });

    test('bootstrap tokens take a lifetime and a clock, and refuse a non-positive lifetime', async (t) => {
      const { db } = await fixture(t);
      assert.throws(() => new BootstrapTokens(db, { ttlMs: 0, clock: () => T0 }), RangeError);
      assert.throws(() => new BootstrapTokens(db, { ttlMs: 1.5 }), RangeError);
      const ttl = 3_600_000;
      const viaOptions = new ClusterStore(db, new BootstrapTokens(db, { ttlMs: ttl, clock: () => T0 }));
      const a = await viaOptions.create({ project: 'web', name: 'alpha' });
      assert.equal(a.bootstrapToken.expiresAt, new Date(T0 + ttl).toISOString());
      const viaClock = new BootstrapTokens(db, { clock: () => T0 + 1, ttlMs: ttl });
      assert.equal((await viaClock.issue('alpha')).expiresAt, new Date(T0 + 1 + ttl).toISOString());
      const byDefault = new ClusterStore(db, new BootstrapTokens(db));
      const before = Date.now();
      const b = await byDefault.create({ project: 'web', name: 'beta' });
      const expires = Date.parse(b.bootstrapToken.expiresAt);
      assert.ok(
        expires >= before + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS &&
          expires <= Date.now() + DEFAULT_BOOTSTRAP_TOKEN_TTL_MS,
      );
    });

    test('a cluster registers: cluster, bootstrap exchange, agent credential, list, with exact times', async (t) => {
      const { clusters, tokens, agents, db, clock } = await fixture(t);
      const ids = await orgWithProject(db, 'acme', 'web', () => clock.now);

      const { cluster, bootstrapToken } = await clusters.create({
        org: 'acme',
        project: 'web',
        name: 'prod-1',
      });
      assert.deepEqual(cluster, created('prod-1', 'acme', 'web'));
      assert.equal(bootstrapToken.expiresAt, iso(T0 + 24 * HOUR));
      await assert.rejects(clusters.create({ org: 'acme', project: 'web', name: 'prod-1' }), {
        name: 'ZtkaError',
        code: 'conflict',
      });
      await assert.rejects(clusters.create({ org: 'acme', project: 'nope', name: 'prod-2' }), {
        code: 'not_found',
      });

      clock.now = T0 + 1000;
      const exchanged = await tokens.exchange(bootstrapToken.token, UID_A, KEY);
      assert.equal(exchanged.clusterName, 'prod-1');
      // Single use.
      await assert.rejects(tokens.exchange(bootstrapToken.token, UID_A, KEY), { code: 'unauthorized' });
      const credentialId = agentCredentialId(exchanged.agentCredential);
      assert.deepEqual(await agents.authenticateAgent(exchanged.agentCredential), {
        clusterId: (
          await db.selectFrom('clusters').select('id').where('name', '=', 'prod-1').executeTakeFirst()
        )?.id,
        clusterName: 'prod-1',
        identity: UID_A,
        credentialId,
        publicKey: KEY,
      });
      assert.equal(await agents.authenticateAgent(`${exchanged.agentCredential}x`), undefined);
      // Registration without an Ed25519 public key exchanges nothing.
      const keyless = await tokens.issue('prod-1');
      await assert.rejects(tokens.exchange(keyless.token, UID_A, 'AAAA'), { code: 'bad_request' });
      assert.ok(parseAgentPublicKey(KEY));

      // Each key proof's nonce is accepted once, also when uses race on separate connections of a pool.
      const expires = clock.now + 60_000;
      const raced = await Promise.all(
        Array.from({ length: 8 }, () => agents.consumeAgentProof(credentialId, 'nonce-1', expires)),
      );
      assert.equal(raced.filter(Boolean).length, 1);
      assert.equal(await agents.consumeAgentProof(credentialId, 'nonce-2', expires), true);
      clock.now = expires + 1;
      assert.equal(await agents.consumeAgentProof(credentialId, 'nonce-3', clock.now + 60_000), true);
      assert.deepEqual(
        (await db.selectFrom('agent_proof_nonces').select('nonce').execute()).map((r) => r.nonce),
        ['nonce-3'],
      );
      clock.now = T0 + 1000;

      // A token from another Kubernetes cluster is refused; an expired one too.
      const second = await tokens.issue('prod-1');
      await assert.rejects(tokens.exchange(second.token, UID_B, KEY), { code: 'forbidden' });
      const third = await tokens.issue('prod-1');
      clock.now += 24 * HOUR;
      await assert.rejects(tokens.exchange(third.token, UID_A, KEY), { code: 'unauthorized' });

      // Re-bootstrapping rotates the agent credential.
      const fourth = await tokens.issue('prod-1');
      const rotated = await tokens.exchange(fourth.token, UID_A, KEY);
      assert.equal(await agents.authenticateAgent(exchanged.agentCredential), undefined);
      assert.equal((await agents.authenticateAgent(rotated.agentCredential))?.clusterName, 'prod-1');

      const seenAt = clock.now;
      await clusters.recordAgent('prod-1', { agentVersion: '0.1.0', kubeVersion: 'v1.34.4' });
      await orgWithProject(db, 'acme', 'batch');
      await clusters.create({ org: 'acme', project: 'batch', name: 'batch-1' });
      await clusters.create({ org: 'acme', project: 'web', name: 'a-web' });

      const all = await clusters.list();
      assert.deepEqual(
        all.map((c) => c.name),
        ['a-web', 'batch-1', 'prod-1'],
      );
      const web = await clusters.list('web', 'acme');
      assert.deepEqual(
        web.map((c) => c.name),
        ['a-web', 'prod-1'],
      );
      assert.deepEqual(web[1], {
        name: 'prod-1',
        org: 'acme',
        project: 'web',
        identity: UID_A,
        connected: false,
        lastSeenAt: iso(seenAt),
        agentVersion: '0.1.0',
        kubeVersion: 'v1.34.4',
        createdAt: iso(T0),
      });
      assert.deepEqual(await clusters.list(undefined, undefined, new Set([ids.projectId])), web);

      const raw = await db
        .selectFrom('clusters')
        .select(['created_at', 'last_seen_at', 'connected'])
        .where('name', '=', 'prod-1')
        .executeTakeFirstOrThrow();
      assert.deepEqual(raw, { created_at: T0, last_seen_at: seenAt, connected: 0 });

      assert.equal(await clusters.delete('batch-1'), true);
      assert.equal(await clusters.delete('batch-1'), false);
      assert.equal(await clusters.delete('prod-1'), true);
      assert.equal(await agents.authenticateAgent(rotated.agentCredential), undefined);
    });
  });
}
