// What a provider's claims say about a person, under an org's rules: their ztka username, their email (which
// must be in an allowed domain, and not marked unverified), and which ztka groups their provider groups give.
// Pure, so each rule is tested on its own.
import { isDnsLabel } from '@ztka/protocol';
import { USERNAME_PATTERN } from '../../org/names.js';
import type { ProviderSettings } from './providers.js';
import { OidcError, type OidcClaims } from './oidc.js';

/** Bounds on what a provider may send: beyond them the login is refused rather than cut short silently. */
export const MAX_GROUPS = 1000;
const MAX_GROUP_LENGTH = 256;
const USERNAME = new RegExp(USERNAME_PATTERN);

export interface Person {
  subject: string;
  username: string;
  email: string | null;
  /** The provider's groups, as it sent them. */
  providerGroups: string[];
}

/** A claim by name; a dotted name reaches into nested objects (`realm_access.roles`). */
function claim(claims: OidcClaims, name: string): unknown {
  if (name in claims) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export function personOf(claims: OidcClaims, rules: ProviderSettings): Person {
  const rawName = claim(claims, rules.usernameClaim);
  if (typeof rawName !== 'string' || rawName === '')
    throw new OidcError(
      'no_username',
      `the identity provider sent no ${rules.usernameClaim} claim to name the person by`,
    );
  const username = rawName.toLowerCase();
  if (!USERNAME.test(username))
    throw new OidcError(
      'invalid_username',
      `the identity provider's ${rules.usernameClaim} claim is not a valid ztka username`,
    );

  const rawEmail = claim(claims, rules.emailClaim);
  const email = typeof rawEmail === 'string' && rawEmail !== '' ? rawEmail.toLowerCase() : null;
  if (rules.allowedDomains.length > 0) {
    if (email === null)
      throw new OidcError(
        'email_not_allowed',
        `the identity provider sent no ${rules.emailClaim}, and only some domains may log in`,
      );
    // Only an address the provider vouches for counts: where people can edit their email, an unverified
    // one is whatever they typed.
    if (claims['email_verified'] !== true)
      throw new OidcError(
        'email_not_verified',
        'the identity provider does not vouch for this email address (email_verified)',
      );
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (!email.includes('@') || !rules.allowedDomains.includes(domain))
      throw new OidcError(
        'email_not_allowed',
        `email addresses at ${domain} may not log in to this organization`,
      );
  }

  const rawGroups = claim(claims, rules.groupsClaim);
  const list =
    rawGroups === undefined || rawGroups === null ? [] : Array.isArray(rawGroups) ? rawGroups : [rawGroups];
  if (list.length > MAX_GROUPS)
    throw new OidcError('too_many_groups', `the identity provider sent more than ${MAX_GROUPS} groups`);
  const providerGroups: string[] = [];
  for (const g of list)
    if (typeof g === 'string' && g.length > 0 && g.length <= MAX_GROUP_LENGTH) providerGroups.push(g);
  return { subject: claims.sub, username, email, providerGroups: [...new Set(providerGroups)].sort() };
}

/** The ztka groups the explicit mapping table gives for the provider's groups. */
export function explicitlyMapped(providerGroups: readonly string[], rules: ProviderSettings): Set<string> {
  const out = new Set<string>();
  for (const g of providerGroups) {
    const mapped = Object.hasOwn(rules.groupMapping, g) ? rules.groupMapping[g] : undefined;
    if (mapped !== undefined) out.add(mapped);
  }
  return out;
}

/** The ztka group names the provider's groups map to: the explicit table first, then (if on) same names. */
export function mappedGroups(providerGroups: readonly string[], rules: ProviderSettings): string[] {
  const out = explicitlyMapped(providerGroups, rules);
  if (rules.groupsByName) for (const g of providerGroups) if (isDnsLabel(g)) out.add(g);
  return [...out].sort();
}
