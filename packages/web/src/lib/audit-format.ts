// How audit records read in a table: the object a call touched, its status class, its duration.
import type { ApiRecord } from './types.js';

/** `namespace/resource/name/subresource` from the object reference, else the request path. */
export function resourcePath(r: Pick<ApiRecord, 'objectRef' | 'requestURI'>): string {
  const o = r.objectRef;
  if (!o || !o.resource) return r.requestURI.split('?')[0] ?? r.requestURI;
  const resource = o.apiGroup ? `${o.resource}.${o.apiGroup}` : o.resource;
  return [o.namespace, resource, o.name, o.subresource].filter((p) => p !== undefined && p !== '').join('/');
}

/** Mantine color of an HTTP status: 2xx green, 1xx/3xx blue, 4xx orange, 5xx red, none gray. */
export function statusColor(status: number): string {
  if (status >= 500) return 'red';
  if (status >= 400) return 'orange';
  if (status >= 200 && status < 300) return 'teal';
  if (status > 0) return 'blue';
  return 'gray';
}

/** `12 ms`, `1.4 s`, `2 min 5 s`; empty when unknown. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A record's detail object as one line of JSON. */
export function detailText(detail: unknown): string {
  if (detail === undefined) return '';
  try {
    return JSON.stringify(detail);
  } catch {
    return String(detail);
  }
}
