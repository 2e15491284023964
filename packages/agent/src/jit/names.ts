// The name of a person's just-in-time service account. Two people must never share one: the account's
// bindings are the person's role, and deleting it ends their access. So the mapping is injective on every
// string, not only on the usernames the controller accepts today, and it never yields a name that
// Kubernetes or ztka itself uses in the JIT namespace.
//
// Readable form, so that the cluster's own audit log and `kubectl get sa` say who it is: a username of
// printable ASCII starting with [a-z0-9] is written with every character outside [a-z0-9] as
// `-<decimal code>` (`demos@rafay.co` → `demos-64rafay-46co`), if that fits a DNS-1123 label and is not
// reserved. It decodes unambiguously: after a '-' come two digits, and a code of 32–99 stops there while
// 10–12 can only begin a three-digit code (100–126); so no two usernames share a readable name.
//
// Hashed form, for everything else (too long, non-ASCII, a leading punctuation mark, a reserved name):
// `<hint>--<hash>`, where the hash is 160 bits of SHA-256 over the username's UTF-16 code units (32 base32
// characters; UTF-16 because UTF-8 would write every lone surrogate as the same U+FFFD) and the hint is a readable prefix for people. A readable name never holds "--" (each '-' is
// followed by a digit), so the two forms never meet; two hashed names are equal only if their 160-bit
// hashes are, which takes about 2^80 SHA-256 evaluations to arrange. The agent does not rely on this
// alone: it never reuses an account recorded as someone else's (service-accounts.ts).
import { createHash } from 'node:crypto';
import { AGENT_NAME } from '@ztka/protocol';

const MAX = 63;
export const HASH_MARKER = '--';
const HASH_CHARS = 32;
const HINT_MAX = MAX - HASH_MARKER.length - HASH_CHARS;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * Names no person's account may take: the service account Kubernetes makes in every namespace, the
 * agent's own, and the prefixes Kubernetes and ztka name their own identities with (`system:…`,
 * `kube-…`, `ztka-…`).
 */
const RESERVED_NAMES: ReadonlySet<string> = new Set(['default', AGENT_NAME]);
const RESERVED_PREFIXES = ['ztka', 'system', 'kube'] as const;

const hasReservedPrefix = (name: string) => RESERVED_PREFIXES.some((p) => name.startsWith(p));

export function isReservedName(name: string): boolean {
  return RESERVED_NAMES.has(name) || hasReservedPrefix(name);
}

const ALNUM = /^[a-z0-9]$/;
const isPrintableAscii = (code: number) => code >= 32 && code <= 126;

/** The `-<code>` tokens of a username, or undefined if a character has no readable form. */
function readableTokens(username: string): string[] | undefined {
  const tokens: string[] = [];
  for (const ch of username) {
    const code = ch.codePointAt(0) ?? 0;
    if (ALNUM.test(ch)) tokens.push(ch);
    else if (isPrintableAscii(code)) tokens.push(`-${code}`);
    else return undefined;
  }
  return tokens;
}

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** 160 bits of SHA-256 over the username's UTF-16 code units, in 32 base32 characters. */
export function usernameHash(username: string): string {
  return base32(createHash('sha256').update(Buffer.from(username, 'utf16le')).digest().subarray(0, 20));
}

/** A readable prefix for a hashed name; only for people reading `kubectl get sa`, never for uniqueness. */
function hint(username: string): string {
  let out = '';
  for (const ch of username.toLowerCase()) {
    const code = ch.codePointAt(0) ?? 0;
    const token = ALNUM.test(ch) ? ch : isPrintableAscii(code) ? `-${code}` : '';
    if (out === '' && !ALNUM.test(token)) continue; // a label starts with a letter or digit
    if (out.length + token.length > HINT_MAX - 1) break;
    out += token;
  }
  return out === '' || hasReservedPrefix(out) ? `u${out}` : out;
}

export function serviceAccountName(username: string): string {
  const tokens = readableTokens(username);
  if (tokens && tokens.length > 0 && ALNUM.test(tokens[0] ?? '')) {
    const readable = tokens.join('');
    if (readable.length <= MAX && !isReservedName(readable)) return readable;
  }
  return `${hint(username)}${HASH_MARKER}${usernameHash(username)}`;
}
