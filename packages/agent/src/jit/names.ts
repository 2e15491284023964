// The name of a person's just-in-time service account, derived from their username so that the cluster's
// own audit log and `kubectl get sa` say who it is: lowercased, every character outside [a-z0-9] written
// as `-<decimal code>` (`demos@rafay.co` → `demos-64rafay-46co`).
//
// For printable ASCII this is injective: a literal '-' is itself encoded, and a code is 2 digits (32–99) or
// 3 digits (100–126) with no 3-digit code starting with a valid 2-digit one. Anything else (non-ASCII, a
// name too long for a DNS-1123 label) is cut and given a hash suffix, so two people never share a name.
import { createHash } from 'node:crypto';

const MAX = 63;
const HASH_CHARS = 10;

export function serviceAccountName(username: string): string {
  const lower = username.toLowerCase();
  let encoded = '';
  let printableAscii = true;
  for (const ch of lower) {
    const code = ch.codePointAt(0) ?? 0;
    if (/[a-z0-9]/.test(ch)) encoded += ch;
    else {
      encoded += `-${code}`;
      if (code < 32 || code > 126) printableAscii = false;
    }
  }
  // A DNS-1123 label starts with an alphanumeric.
  if (encoded.startsWith('-')) encoded = `u${encoded}`;
  if (printableAscii && encoded.length <= MAX && encoded.length > 0) return encoded;
  const hash = createHash('sha256').update(username, 'utf8').digest('hex').slice(0, HASH_CHARS);
  const head = encoded.slice(0, MAX - HASH_CHARS - 1).replace(/-+$/, '');
  return `${head || 'u'}-${hash}`;
}
