// The controller's parse of a kube request, carried to the agent beside the request itself. The agent does
// not act on it in place of the path: the path is what the apiserver will act on, so the agent parses the
// path too (for its own refusal of the protected namespaces) and forwards the request only if both parses
// agree. A controller and an agent of different versions that read one path differently then fail the
// request, rather than have authorization and audit see one request and the cluster run another.
import type { KubeRequest } from './kube-request.js';

/** The controller's parse of the request: base64url JSON of the fields below. */
export const KUBE_REQUEST_HEADER = 'x-ztka-kube-request';

/** What the two parses must agree on: every field but the path, which is the input of both. */
const FIELDS = [
  'verb',
  'isResourceRequest',
  'apiGroup',
  'apiVersion',
  'namespace',
  'resource',
  'name',
  'subresource',
  'isWatch',
] as const satisfies ReadonlyArray<keyof KubeRequest>;

type CarriedKubeRequest = Pick<KubeRequest, (typeof FIELDS)[number]>;

export function encodeKubeRequestHeader(kube: KubeRequest): string {
  const carried: Partial<Record<keyof CarriedKubeRequest, unknown>> = {};
  for (const field of FIELDS) if (kube[field] !== undefined) carried[field] = kube[field];
  return Buffer.from(JSON.stringify(carried)).toString('base64url');
}

/** Whether `header` (KUBE_REQUEST_HEADER) names the same request as `kube`; false for anything unreadable. */
export function agreesWithKubeRequestHeader(kube: KubeRequest, header: string): boolean {
  let carried: unknown;
  try {
    carried = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  if (carried === null || typeof carried !== 'object' || Array.isArray(carried)) return false;
  const fields = carried as Partial<Record<string, unknown>>;
  if (Object.keys(fields).some((k) => !(FIELDS as readonly string[]).includes(k))) return false;
  return FIELDS.every((field) => fields[field] === kube[field]);
}
