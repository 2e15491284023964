// First start: the org `default` and its first administrator. The password comes from ZTKA_ADMIN_PASSWORD
// or is generated and handed back once to be printed; only its hash is stored. Later starts change nothing,
// so a restart never resets a password someone has since changed.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DEFAULT_ORG } from '@ztka/protocol';
import { normaliseUsername } from '../org/names.js';
import type { Database } from '../store/schema.js';
import { MIN_PASSWORD_LENGTH, generatePassword, hashPassword } from './passwords.js';

export const DEFAULT_ADMIN = 'admin';

export interface BootstrapResult {
  orgId: string;
  /** Set only on the start that created the admin with a generated password. */
  generatedPassword: string | undefined;
}

export async function bootstrapOrg(
  db: Kysely<Database>,
  opts: { adminUsername?: string; adminPassword?: string | undefined },
): Promise<BootstrapResult> {
  await db
    .insertInto('orgs')
    .values({ id: randomUUID(), name: DEFAULT_ORG, created_at: Date.now() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const { id: orgId } = await db
    .selectFrom('orgs')
    .select('id')
    .where('name', '=', DEFAULT_ORG)
    .executeTakeFirstOrThrow();
  const anyUser = await db.selectFrom('users').select('id').where('org_id', '=', orgId).executeTakeFirst();
  if (anyUser) return { orgId, generatedPassword: undefined };

  const given = opts.adminPassword;
  if (given !== undefined && given.length < MIN_PASSWORD_LENGTH)
    throw new Error(`ZTKA_ADMIN_PASSWORD must have at least ${MIN_PASSWORD_LENGTH} characters`);
  const password = given ?? generatePassword();
  const passwordHash = await hashPassword(password);
  // Replicas starting at once on a new database all find no user: the admin and its role are made in one
  // transaction by whichever inserts first; the others find the name taken and leave it to that one.
  const created = await db.transaction().execute(async (trx) => {
    const now = Date.now();
    const userId = randomUUID();
    const inserted = await trx
      .insertInto('users')
      .values({
        id: userId,
        org_id: orgId,
        username: normaliseUsername(opts.adminUsername ?? DEFAULT_ADMIN),
        password_hash: passwordHash,
        disabled_at: null,
        created_at: now,
      })
      .onConflict((oc) => oc.column('username').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
    await trx
      .insertInto('role_assignments')
      .values({
        id: randomUUID(),
        org_id: orgId,
        user_id: userId,
        group_id: null,
        role: 'ADMIN',
        project_id: null,
        namespaces: '',
        created_at: now,
      })
      .execute();
    return true;
  });
  if (!created) return { orgId, generatedPassword: undefined };
  return { orgId, generatedPassword: given === undefined ? password : undefined };
}
