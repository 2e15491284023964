// The naming rules of the API, checked in one place. Fastify validates shapes at the edge; these checks
// exist for callers inside the controller (bootstrap, the demo) and give the same messages.
import { DNS_LABEL_PATTERN, ZtkaError, isDnsLabel } from '@ztka/protocol';

/** The label pattern of the API's schemas (the rule itself is @ztka/protocol's). */
export { DNS_LABEL_PATTERN };
/** Emails or plain names, lowercased: the JIT service-account name is derived from it. */
export const USERNAME_PATTERN = '^[a-z0-9][a-z0-9._%+@-]{0,253}$';
/** What the API accepts before lowercasing. */
export const USERNAME_INPUT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._%+@-]{0,253}$';

const USERNAME = new RegExp(USERNAME_PATTERN);

export function checkLabel(kind: string, name: string, field = '/name'): string {
  if (!isDnsLabel(name))
    throw new ZtkaError(
      'bad_request',
      `${kind} name ${JSON.stringify(name.slice(0, 80))} is not a DNS-1123 label: at most 63 lowercase letters, ` +
        `digits and '-', starting and ending with a letter or digit`,
      { field },
    );
  return name;
}

export function normaliseUsername(username: string, field = '/username'): string {
  const lower = username.toLowerCase();
  if (!USERNAME.test(lower))
    throw new ZtkaError(
      'bad_request',
      `username ${JSON.stringify(username.slice(0, 80))} is not valid: 1–254 of a-z 0-9 . _ % + @ -, ` +
        `starting with a letter or digit`,
      { field },
    );
  return lower;
}

/** Names are unique per kind; a taken name is a 409 that names the field. */
export function conflict(kind: string, name: string, field = '/name'): ZtkaError {
  return new ZtkaError('conflict', `${kind} ${JSON.stringify(name)} already exists`, { field });
}

/** Whether a database error is a unique-constraint violation (SQLite or PostgreSQL). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e.code === '23505'
  );
}
