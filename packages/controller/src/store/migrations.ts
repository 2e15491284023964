// Schema migrations, defined in code so that they ship inside the bundle and run identically on every dialect.
// Migrations are append-only: never edit one that has been released; add a new one instead.
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

// Column types are limited to text, bigint and integer, which mean the same thing on SQLite and PostgreSQL.
// Timestamps are bigint epoch milliseconds and booleans integer 0/1 (see schema.ts). Primary keys are declared
// NOT NULL explicitly: SQLite, unlike PostgreSQL, otherwise lets a non-integer primary key hold NULL.
const migration001: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('orgs')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('projects')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('projects_org_id_name_unique', ['org_id', 'name'])
      .execute();

    await db.schema
      .createTable('clusters')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('identity', 'text')
      .addColumn('agent_version', 'text')
      .addColumn('kube_version', 'text')
      .addColumn('last_seen_at', 'bigint')
      .addColumn('connected', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('clusters_project_id_idx').on('clusters').column('project_id').execute();

    await db.schema
      .createTable('bootstrap_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('bootstrap_tokens_cluster_id_idx')
      .on('bootstrap_tokens')
      .column('cluster_id')
      .execute();

    await db.schema
      .createTable('agent_credentials')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('cluster_id', 'text', (c) => c.notNull().references('clusters.id').onDelete('cascade'))
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('agent_credentials_cluster_id_idx')
      .on('agent_credentials')
      .column('cluster_id')
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['agent_credentials', 'bootstrap_tokens', 'clusters', 'projects', 'orgs']) {
      await db.schema.dropTable(table).execute();
    }
  },
};

// Identity: users, groups, role assignments, every credential a person holds, org settings, system events.
const migration002: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('username', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text')
      .addColumn('disabled_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('groups')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('groups_org_id_name_unique', ['org_id', 'name'])
      .execute();

    await db.schema
      .createTable('group_members')
      .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
      .execute();
    await db.schema.createIndex('group_members_user_id_idx').on('group_members').column('user_id').execute();

    await db.schema
      .createTable('role_assignments')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('group_id', 'text', (c) => c.references('groups.id').onDelete('cascade'))
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('project_id', 'text', (c) => c.references('projects.id').onDelete('cascade'))
      .addColumn('namespaces', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('role_assignments_user_id_idx')
      .on('role_assignments')
      .column('user_id')
      .execute();
    await db.schema
      .createIndex('role_assignments_group_id_idx')
      .on('role_assignments')
      .column('group_id')
      .execute();

    await db.schema
      .createTable('credentials')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
      .addColumn('channel', 'text')
      .addColumn('cluster_id', 'text', (c) => c.references('clusters.id').onDelete('cascade'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('last_used_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.createIndex('credentials_user_id_idx').on('credentials').column('user_id').execute();

    await db.schema
      .createTable('org_settings')
      .addColumn('org_id', 'text', (c) => c.primaryKey().notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('kubeconfig_validity_s', 'bigint', (c) => c.notNull())
      .addColumn('sa_lifetime_s', 'bigint', (c) => c.notNull())
      .addColumn('web_kubectl', 'integer', (c) => c.notNull())
      .addColumn('cli_kubectl', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('system_events')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('org_id', 'text')
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('actor', 'text')
      .addColumn('source_ip', 'text')
      .addColumn('detail', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('system_events_at_idx').on('system_events').column('at').execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of [
      'system_events',
      'org_settings',
      'credentials',
      'role_assignments',
      'group_members',
      'groups',
      'users',
    ]) {
      await db.schema.dropTable(table).execute();
    }
  },
};

// The audit trail replaces the plain system_events table: system events become records of the chain.
const migration003: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('system_events').execute();
    await db.schema
      .createTable('audit_records')
      .addColumn('org_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('stage', 'text', (c) => c.notNull())
      .addColumn('username', 'text')
      .addColumn('project', 'text')
      .addColumn('cluster', 'text')
      .addColumn('namespace', 'text')
      .addColumn('resource', 'text')
      .addColumn('verb', 'text')
      .addColumn('status', 'integer')
      .addColumn('channel', 'text')
      .addColumn('session_id', 'text')
      .addColumn('kubectl_session', 'text')
      .addColumn('summary', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_records_pk', ['org_id', 'seq'])
      .execute();
    // Newest-first pages per kind, optionally narrowed by the filters people use most. Every index costs
    // each append, so there are no more than the queries need (P6 measures both sides).
    for (const [name, columns] of [
      ['audit_records_kind_idx', ['org_id', 'kind', 'seq']],
      ['audit_records_cluster_idx', ['org_id', 'kind', 'cluster', 'seq']],
      ['audit_records_user_idx', ['org_id', 'kind', 'username', 'seq']],
      ['audit_records_session_idx', ['kubectl_session']],
    ] as const) {
      await db.schema
        .createIndex(name)
        .on('audit_records')
        .columns([...columns])
        .execute();
    }
    // One row per assignment even under concurrent requests on PostgreSQL; NULLs never collide in a plain
    // unique index, so the nullable columns are compared through coalesce().
    await db.schema
      .createIndex('role_assignments_unique')
      .on('role_assignments')
      .unique()
      .expression(
        sql`coalesce(user_id, ''), coalesce(group_id, ''), role, coalesce(project_id, ''), namespaces`,
      )
      .execute();
    await db.schema
      .createTable('audit_checkpoints')
      .addColumn('org_id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('pruned_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('role_assignments_unique').execute();
    await db.schema.dropTable('audit_checkpoints').execute();
    await db.schema.dropTable('audit_records').execute();
  },
};

// A browser shell's kube token names its shell session, so the audit trail can join the session's API
// calls to the command lines it ran.
const migration004: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('credentials').addColumn('session_id', 'text').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('credentials').dropColumn('session_id').execute();
  },
};

// Each agent reports the namespace of its just-in-time service accounts, so no role assignment can name it.
const migration005: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('clusters').addColumn('jit_namespace', 'text').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('clusters').dropColumn('jit_namespace').execute();
  },
};

// A pruning checkpoint carries the audit key's signature, so one written into the database by hand is told
// apart from one the controller wrote.
const migration006: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('audit_checkpoints').addColumn('key_id', 'text').execute();
    await db.schema.alterTable('audit_checkpoints').addColumn('signature', 'text').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('audit_checkpoints').dropColumn('signature').execute();
    await db.schema.alterTable('audit_checkpoints').dropColumn('key_id').execute();
  },
};

// The org may require a Pod Security level on the namespaces it grants; 'off' (every existing org) labels
// nothing, as before.
const migration007: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('org_settings')
      .addColumn('namespace_pod_security', 'text', (c) => c.notNull().defaultTo('off'))
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('org_settings').dropColumn('namespace_pod_security').execute();
  },
};

// Each agent credential is bound to the public half of a key the agent made at registration, and each proof
// of that key is accepted once: its nonce is kept until the proof is too old to be accepted anyway. Kept in
// the store, not in memory, so that every controller replica sharing the store refuses a replay. Credentials
// issued before have no key (NULL) and are refused until their agent registers again.
const migration008: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('agent_credentials').addColumn('public_key', 'text').execute();
    await db.schema
      .createTable('agent_proof_nonces')
      .addColumn('credential_id', 'text', (c) =>
        c.notNull().references('agent_credentials.id').onDelete('cascade'),
      )
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('agent_proof_nonces_pk', ['credential_id', 'nonce'])
      .execute();
    await db.schema
      .createIndex('agent_proof_nonces_expires_at_idx')
      .on('agent_proof_nonces')
      .column('expires_at')
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('agent_proof_nonces').execute();
    await db.schema.alterTable('agent_credentials').dropColumn('public_key').execute();
  },
};

// Single sign-on with OpenID Connect. Providers hold their client secret sealed (store/sealed.ts); a person's
// link to a provider (subject, groups, sealed refresh token, the deadline of their session) is an identity;
// a login in progress is a row until its callback consumes it once. Group memberships record where they came
// from, so a login syncs the provider's groups without touching memberships an admin made.
const migration009: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('sso_providers')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('org_id', 'text', (c) => c.notNull().references('orgs.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('client_secret', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('username_claim', 'text', (c) => c.notNull())
      .addColumn('email_claim', 'text', (c) => c.notNull())
      .addColumn('groups_claim', 'text', (c) => c.notNull())
      .addColumn('allowed_domains', 'text', (c) => c.notNull())
      .addColumn('group_mapping', 'text', (c) => c.notNull())
      .addColumn('groups_by_name', 'integer', (c) => c.notNull())
      .addColumn('ca_pem', 'text')
      .addColumn('max_session_s', 'bigint', (c) => c.notNull())
      .addColumn('device_flow', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('sso_identities')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('provider_id', 'text', (c) => c.notNull().references('sso_providers.id').onDelete('cascade'))
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull().unique().references('users.id').onDelete('cascade'))
      .addColumn('email', 'text')
      .addColumn('groups', 'text', (c) => c.notNull())
      .addColumn('refresh_token', 'text')
      .addColumn('login_at', 'bigint', (c) => c.notNull())
      .addColumn('refreshed_at', 'bigint', (c) => c.notNull())
      .addColumn('session_expires_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('sso_identities_provider_subject_unique', ['provider_id', 'subject'])
      .execute();
    await db.schema
      .createTable('sso_logins')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('state_hash', 'text', (c) => c.notNull().unique())
      .addColumn('provider_id', 'text', (c) => c.notNull().references('sso_providers.id').onDelete('cascade'))
      .addColumn('browser_hash', 'text', (c) => c.notNull())
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('code_verifier', 'text', (c) => c.notNull())
      .addColumn('client', 'text', (c) => c.notNull())
      .addColumn('cli_redirect', 'text')
      .addColumn('cli_challenge', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('handoff_hash', 'text')
      .addColumn('handoff_user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('handoff_expires_at', 'bigint')
      .addColumn('handoff_used_at', 'bigint')
      .execute();
    await db.schema.createIndex('sso_logins_expires_at_idx').on('sso_logins').column('expires_at').execute();
    await db.schema
      .createIndex('sso_logins_handoff_hash_idx')
      .on('sso_logins')
      .column('handoff_hash')
      .execute();
    await db.schema.alterTable('group_members').addColumn('source', 'text').execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('group_members').dropColumn('source').execute();
    await db.schema.dropTable('sso_logins').execute();
    await db.schema.dropTable('sso_identities').execute();
    await db.schema.dropTable('sso_providers').execute();
  },
};

// Local login policy: a person's TOTP seed (sealed, never in clear) and the last time step they used, so a
// code is accepted once; and the org's rules for password logins. Every existing org keeps today's
// behaviour: no TOTP required, passwords allowed, no break-glass user.
const migration010: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('user_totp')
      .addColumn('user_id', 'text', (c) =>
        c.primaryKey().notNull().references('users.id').onDelete('cascade'),
      )
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('confirmed_at', 'bigint')
      .addColumn('last_step', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .alterTable('org_settings')
      .addColumn('require_totp', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('org_settings')
      .addColumn('sso_only', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    // By id, not name: a user deleted and created again under the same name does not inherit the role.
    await db.schema
      .alterTable('org_settings')
      .addColumn('break_glass_user_id', 'text', (c) => c.references('users.id').onDelete('set null'))
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const column of ['break_glass_user_id', 'sso_only', 'require_totp'])
      await db.schema.alterTable('org_settings').dropColumn(column).execute();
    await db.schema.dropTable('user_totp').execute();
  },
};

// Several replicas on one database: each running replica registers itself and its peer address, with a
// heartbeat; each connected cluster records which replica holds its tunnel (and which tunnel, so a release
// or a takeover only ever touches the tunnel it means). A replica that dies leaves rows a live one sweeps.
const migration011: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('controller_replicas')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('peer_url', 'text')
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('tunnel_locations')
      .addColumn('cluster_id', 'text', (c) =>
        c.primaryKey().notNull().references('clusters.id').onDelete('cascade'),
      )
      .addColumn('replica_id', 'text', (c) => c.notNull())
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('jit_namespace', 'text', (c) => c.notNull())
      .addColumn('connected_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('tunnel_locations_replica_idx')
      .on('tunnel_locations')
      .column('replica_id')
      .execute();
    await db.schema
      .createTable('peer_authority')
      .addColumn('id', 'text', (c) => c.primaryKey().notNull())
      .addColumn('cert_pem', 'text', (c) => c.notNull())
      .addColumn('key_sealed', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('peer_authority').execute();
    await db.schema.dropTable('tunnel_locations').execute();
    await db.schema.dropTable('controller_replicas').execute();
  },
};

/** All migrations, keyed by name; Kysely applies them in name order. */
export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '001_initial': migration001,
  '002_identity': migration002,
  '003_audit': migration003,
  '004_shell_sessions': migration004,
  '005_jit_namespace': migration005,
  '006_audit_checkpoint_signatures': migration006,
  '007_org_namespace_pod_security': migration007,
  '008_agent_keys': migration008,
  '009_sso': migration009,
  '010_local_login_policy': migration010,
  '011_replicas': migration011,
});

class InMemoryMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...migrations };
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Brings the schema up to date. Safe to call on every start: already-applied migrations are skipped, and
 * Kysely's lock table serialises concurrent callers. Throws if any migration fails (the failed migration is
 * rolled back where the dialect supports transactional DDL, which SQLite and PostgreSQL both do), or if the
 * database was migrated by a newer controller that knows migrations this one does not. Returns the names of
 * the migrations applied by this call (empty when the schema was already current).
 */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InMemoryMigrationProvider() });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error');
    const where = failed ? `migration "${failed.migrationName}" failed` : 'migrations could not be run';
    throw new Error(`database migration error: ${where}: ${describe(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
