/**
 * Time-based one-time passwords as authenticator apps make them (RFC 6238 with its defaults): HMAC-SHA-1,
 * 6 digits, a new code every 30 seconds. The controller checks them; the CLI and the console only need to
 * know what a code looks like, to refuse a typo before it costs a login attempt.
 */
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_CODE_PATTERN = '^[0-9]{6}$';
/** The issuer authenticator apps show beside the username. */
export const TOTP_ISSUER = 'ztka';

const CODE = new RegExp(TOTP_CODE_PATTERN);

/** Whether `code` has the form of a TOTP code (not whether it is right). */
export function isTotpCode(code: string): boolean {
  return CODE.test(code);
}
