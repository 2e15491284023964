// First start: the org `default` and its first administrator. The password comes from ZTKA_ADMIN_PASSWORD
// or is generated and handed back once to be printed; only its hash is stored. Later starts change nothing,
// so a restart never resets a password someone has since changed.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RoleAssignments } from '../org/role-assignments.js';
import type { UserDirectory } from '../org/users.js';
import type { Database } from '../store/schema.js';
import { MIN_PASSWORD_LENGTH, generatePassword, hashPassword } from './passwords.js';

export const DEFAULT_ORG = 'default';
export const DEFAULT_ADMIN = 'admin';

export interface BootstrapResult {
  orgId: string;
  /** Set only on the start that created the admin with a generated password. */
  generatedPassword: string | undefined;
}

export async function bootstrapOrg(
  db: Kysely<Database>,
  users: UserDirectory,
  roles: RoleAssignments,
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
  const admin = await users.create(orgId, opts.adminUsername ?? DEFAULT_ADMIN, await hashPassword(password));
  await roles.assign(orgId, { userId: admin.id }, 'ADMIN', null, undefined);
  return { orgId, generatedPassword: given === undefined ? password : undefined };
}
