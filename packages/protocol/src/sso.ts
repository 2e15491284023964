// Single sign-on shapes the controller serves and the console and the CLI read. Browser-safe.

/** A provider on the login page: anyone may see these. */
export interface SsoProviderName {
  name: string;
  displayName: string;
}

/** What an org admin configures for an OpenID Provider; the client secret is write-only. */
export interface SsoProviderSettings {
  displayName: string;
  issuer: string;
  clientId: string;
  scopes: string[];
  /** The claim whose value becomes the ztka username (lowercased). */
  usernameClaim: string;
  emailClaim: string;
  /** The claim listing the person's groups; a dotted name reaches into objects (`realm_access.roles`). */
  groupsClaim: string;
  /** Email domains that may log in; empty allows any. */
  allowedDomains: string[];
  /** Provider group → ztka group. */
  groupMapping: Record<string, string>;
  /**
   * Whether a provider group also grants the ztka group of the same name (off by default; never a group
   * holding an org-wide role: those must be mapped explicitly).
   */
  groupsByName: boolean;
  /** A CA to trust for this issuer, beyond the system's. */
  caPem: string | null;
  /** The longest a login lasts: every credential from it ends by then. */
  maxSessionSeconds: number;
  /** Whether the CLI may log in with the device flow, which can be phished (RFC 8628 5.4): off by default. */
  deviceFlow: boolean;
}

export interface SsoProviderView extends SsoProviderSettings {
  name: string;
  hasClientSecret: boolean;
  /** The redirect URI to register at the provider. */
  redirectUri: string;
  createdAt: string;
  updatedAt: string;
}

/** The bounds of `maxSessionSeconds`: 5 minutes to 7 days. */
export const SSO_MAX_SESSION_BOUNDS = { minimum: 300, maximum: 7 * 24 * 3600 } as const;
