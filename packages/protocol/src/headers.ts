import { HOP_BY_HOP_HEADERS } from './tunnel.js';

type HeaderValue = string | string[] | number | undefined;

/**
 * Headers as one hop may pass them to the next: without pseudo headers, the tunnel's own `x-ztka-*`,
 * hop-by-hop headers and any header that `Connection` names. Every hop of a request uses this one filter,
 * on the way in and on the way back.
 *
 * With `dropCredentials`, the caller's `Authorization` and every `Impersonate-*` header go too — removed
 * rather than checked and passed on: the agent acts with the person's own just-in-time identity, and
 * nothing a client sends may change who that is.
 */
export function forwardableHeaders(
  headers: Readonly<Record<string, HeaderValue>>,
  opts: { dropCredentials?: boolean } = {},
): Record<string, string | string[] | number> {
  const named = new Set(
    String(headers['connection'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase()),
  );
  const out: Record<string, string | string[] | number> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(':') || name.startsWith('x-ztka-')) continue;
    if (HOP_BY_HOP_HEADERS.has(name) || named.has(name)) continue;
    if (opts.dropCredentials && (name === 'authorization' || name.startsWith('impersonate-'))) continue;
    out[name] = value;
  }
  return out;
}
