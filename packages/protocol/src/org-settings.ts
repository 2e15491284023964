// An org's settings as the API serves them (`GET /v1/settings`), read by the controller and the console.
import type { NamespacePodSecurity } from './pod-security.js';

export interface OrgSettings {
  kubeconfigValiditySeconds: number;
  saLifetimeSeconds: number;
  webKubectl: boolean;
  cliKubectl: boolean;
  /** The Pod Security level the agent labels the namespaces of NAMESPACE_ADMIN grants with, or `off`. */
  namespacePodSecurity: NamespacePodSecurity;
  /** Every password login must send a TOTP code; someone not enrolled gets only an enrolment token. */
  requireTotp: boolean;
  /** Password logins are refused, but for the break-glass user's: people sign in with single sign-on. */
  ssoOnly: boolean;
  /** The username of the one person who may still log in with a password under ssoOnly, or ''. */
  breakGlassUser: string;
}
