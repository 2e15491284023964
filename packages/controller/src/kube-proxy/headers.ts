import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { HOP_BY_HOP_HEADERS } from '@ztka/protocol';

/**
 * The client's headers as they may travel down the tunnel. The caller's credential (`Authorization`) and
 * every `Impersonate-*` header are removed rather than checked and passed on: the agent acts with the
 * user's own just-in-time identity, and nothing a client sends may change who that is.
 */
export function upstreamHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP_HEADERS.has(name) || name === 'authorization') continue;
    if (name.startsWith('impersonate-') || name.startsWith('x-ztka-') || name.startsWith(':')) continue;
    // Headers named in `Connection` are hop-by-hop too.
    out[name] = value;
  }
  for (const name of String(headers.connection ?? '').split(',')) delete out[name.trim().toLowerCase()];
  return out;
}

/** An HTTP/2 response's headers as an HTTP/1.1 response may carry them. */
export function downstreamHeaders(headers: http2IncomingHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (
      value === undefined ||
      name.startsWith(':') ||
      HOP_BY_HOP_HEADERS.has(name) ||
      name.startsWith('x-ztka-')
    )
      continue;
    out[name] = value;
  }
  return out;
}

type http2IncomingHeaders = Record<string, string | string[] | number | undefined>;
