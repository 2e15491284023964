// Schemas shared by the REST routes. Each is compiled once at registration; the OpenAPI document is
// generated from the same objects, so the docs cannot drift from what is enforced.
import { Type, type TSchema } from '@sinclair/typebox';
import { ROLES, TOTP_CODE_PATTERN } from '@ztka/protocol';
import { MAX_PASSWORD_LENGTH } from '../auth/passwords.js';
import { DNS_LABEL_PATTERN, USERNAME_INPUT_PATTERN } from '../org/names.js';
import { MAX_PAGE_LIMIT, pageRequest, type PageRequest } from '../org/page.js';
import { ZtkaError } from '@ztka/protocol';

export const Label = Type.String({ pattern: DNS_LABEL_PATTERN, minLength: 1, maxLength: 63 });
export const Username = Type.String({ pattern: USERNAME_INPUT_PATTERN, minLength: 1, maxLength: 254 });
export const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH });
export const TotpCode = Type.String({ pattern: TOTP_CODE_PATTERN, description: '6-digit TOTP code' });
export const RoleName = Type.Union(ROLES.map((r) => Type.Literal(r)));

export const ErrorBody = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'JSON pointer to the request field at fault' })),
    enrolmentToken: Type.Optional(
      Type.String({ description: 'totp_enrolment_required: the token that enrols a TOTP authenticator' }),
    ),
    expiresAt: Type.Optional(
      Type.String({ description: 'totp_enrolment_required: when that token expires' }),
    ),
  },
  { $id: 'Error', description: 'Every failure has this shape; see docs/errors.md for the codes.' },
);

export const PAGE_PARAMS = {
  limit: Type.Optional(Type.String({ pattern: `^(?:[1-9]\\d{0,2})$`, description: `1–${MAX_PAGE_LIMIT}` })),
  cursor: Type.Optional(Type.String({ maxLength: 1024 })),
};
export const PageQuery = Type.Object(PAGE_PARAMS, { additionalProperties: false });

/** The page a list request asks for; a limit over the maximum is a 400 naming it. */
export function page(query: { limit?: string; cursor?: string }): PageRequest {
  const limit = query.limit === undefined ? undefined : Number(query.limit);
  if (limit !== undefined && limit > MAX_PAGE_LIMIT)
    throw new ZtkaError('bad_request', `limit must be at most ${MAX_PAGE_LIMIT}`, { field: '/limit' });
  return pageRequest({
    ...(limit === undefined ? {} : { limit }),
    ...(query.cursor ? { cursor: query.cursor } : {}),
  });
}

export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Optional(Type.String()) });

export const NameParams = Type.Object({ name: Label });
export const UsernameParams = Type.Object({ username: Username });

/** An object body that refuses fields it does not name. */
export const Body = <T extends Record<string, TSchema>>(properties: T) =>
  Type.Object(properties, { additionalProperties: false });

/** The error responses a route may give, for the OpenAPI document. */
export const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, Type.Ref('Error')]));
