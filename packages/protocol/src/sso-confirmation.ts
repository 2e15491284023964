import { createHash } from 'node:crypto';

/**
 * The words a CLI single sign-on login shows in the terminal and on the controller's confirmation page, from
 * the CLI's PKCE challenge: the person continues only if both say the same, so a login some page started in
 * their browser is told apart from their own.
 */
export function ssoConfirmationWords(challenge: string): string {
  const hex = createHash('sha256').update(`ztka-cli-login:${challenge}`).digest('hex').toUpperCase();
  return `${hex.slice(0, 4)}-${hex.slice(4, 8)}`;
}
