/**
 * The one parser of kube API request paths. The controller parses every request once, below the cluster
 * prefix (`/k8s/clusters/<cluster>`), and hands the resulting {@link KubeRequest} to authorization, audit
 * and the agent, so that all of them reason about the same request the kube-apiserver will see.
 *
 * The rules are those of the apiserver's `RequestInfoFactory` (k8s.io/apiserver/pkg/endpoints/request),
 * re-implemented here: RBAC decisions and audit records are only meaningful if verb, resource, namespace
 * and name come out exactly as the apiserver computes them. Where a request is ambiguous, or would be read
 * differently by Go's URL parser than by Node's, it is rejected with a {@link KubeRequestError} instead of
 * guessed at.
 *
 * URL shapes (method in front, the parsed fields after the arrow; `ns` = namespace):
 *
 * Non-resource requests — `isResourceRequest: false`, `apiGroup`/`apiVersion` '', verb = the lowercased
 * HTTP method (`get`, `head`, `post`, `put`, `patch`, `delete`, `options`; anything else `other`):
 *   1. root                      GET /                                 → get
 *   2. any other first segment   GET /version, /healthz, /readyz, /livez, /metrics, /openapi/v2,
 *                                /openapi/v3/apis/apps/v1, /.well-known/openid-configuration,
 *                                /logs/kube-apiserver.log                → get
 *   3. core versions discovery   GET /api                              → get
 *   4. core resource discovery   GET /api/v1                           → get
 *   5. group list discovery      GET /apis                             → get
 *   6. one group's discovery     GET /apis/apps                        → get
 *   7. group resource discovery  GET /apis/apps/v1                     → get
 *   (`/API/v1/pods` is also non-resource: the prefixes are case-sensitive, as in the apiserver.)
 *
 * Resource requests — `/api/<version>/...` (core, apiGroup '') or `/apis/<group>/<version>/...`:
 *   8. collection, cluster-scoped or across all namespaces
 *                                GET /api/v1/nodes, GET /api/v1/pods   → list, resource pods
 *   9. cluster-scoped object     GET /api/v1/nodes/node-1              → get, name node-1
 *  10. cluster-scoped subresource
 *                                PATCH /api/v1/nodes/node-1/status     → patch, subresource status
 *  11. the namespaces collection GET /api/v1/namespaces                → list, resource namespaces (no ns)
 *  12. one namespace            GET /api/v1/namespaces/team-a          → get, resource namespaces,
 *                                                                        name team-a AND ns team-a
 *  13. namespace subresources (only `status` and `finalize`)
 *                                PUT /api/v1/namespaces/team-a/finalize → update, resource namespaces,
 *                                                                        name team-a, ns team-a, subresource finalize
 *  14. namespaced collection    GET /api/v1/namespaces/default/pods    → list, ns default, resource pods
 *  15. namespaced object        GET /api/v1/namespaces/default/pods/web-0 → get, name web-0
 *  16. namespaced subresource, with any further segments ignored (they are the proxied path)
 *                                POST /api/v1/namespaces/default/pods/web-0/exec     → create, subresource exec
 *                                GET  /api/v1/namespaces/default/pods/web-0/proxy/metrics → get, subresource proxy
 *                                PUT  /apis/apps/v1/namespaces/default/deployments/web/scale → update, scale
 *  17. legacy watch prefix, followed by any of shapes 8–16
 *                                GET /api/v1/watch/namespaces/default/pods → watch, ns default, resource pods
 *                                GET /apis/apps/v1/watch/deployments   → watch, resource deployments
 *  18. legacy proxy prefix, followed by shapes 8–16; it never has a subresource
 *                                GET /api/v1/proxy/namespaces/default/pods/web-0/healthz → proxy, name web-0
 *  19. a bare special-verb prefix is an error (as in the apiserver)
 *                                GET /api/v1/watch, GET /apis/apps/v1/proxy → KubeRequestError
 *   Groups may contain dots (rbac.authorization.k8s.io, CRDs such as stable.example.com); any path of the
 *   right length under `/api` or `/apis` is a resource request, whether or not the apiserver serves it.
 *
 * Verbs of resource requests:
 *   - POST → create; PUT → update; PATCH → patch; DELETE → delete on a named object, deletecollection on a
 *     collection; GET and HEAD → get on a named object, and on a collection list, or watch when the first
 *     `watch` query value is anything but `0` or `false` (case-insensitive; so `watch=true`, `watch=1` and
 *     a bare `watch` all watch). Any other method (OPTIONS, lowercase `get`...) → `other` (the apiserver's
 *     empty verb, which only a `*` rule matches). Methods are compared case-sensitively, as HTTP requires.
 *   - On a collection GET/HEAD, `fieldSelector=metadata.name=<n>` (or `==`, possibly ANDed with other terms)
 *     sets `name` to `<n>`, for list and watch alike: that is what `kubectl get -w pod web-0` sends
 *     (`GET /api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0&watch=true` → watch,
 *     name web-0), and RBAC `resourceNames` rules match it. A GET on a named object with `watch=true` stays
 *     `get`: the apiserver serves the object, not a watch.
 *   - The legacy `/watch/` and `/proxy/` path prefixes set the verb (watch, proxy) whatever the method, and
 *     ignore the `watch` and `fieldSelector` query parameters.
 *   - exec, attach and portforward carry no special verb: `kubectl exec` over SPDY POSTs (→ create), over
 *     WebSocket (the v5 protocol, kubectl ≥ 1.30) GETs (→ get), so RBAC needs `create` and `get` on
 *     `pods/exec`. Detecting the connection upgrade is the caller's business (it is in the headers).
 *
 * Path rules. `path` is the raw, still percent-encoded request path, starting with '/'. Each segment is
 * percent-decoded once (as Go does before the apiserver sees it) and names are taken as-is after that,
 * with these exceptions, all thrown as {@link KubeRequestError}:
 *   - longer than {@link MAX_KUBE_PATH_LENGTH}; not starting with '/'; containing '?', '#', '\', a space,
 *     a control character or non-ASCII (none can be in a request target; '?' means a query was passed in);
 *   - an empty segment (`//`) anywhere — one trailing '/' is allowed and ignored, as the apiserver does;
 *   - a `.` or `..` segment, also when encoded (`%2e%2E`): proxies normalise them away;
 *   - an encoded slash (`%2F`, `%2f`), which would make a name span segments;
 *   - malformed percent-encoding or encoded bytes that are not UTF-8;
 *   - a `;` or `%` in the `watch` or `fieldSelector` query values: Go's query parser drops a pair with a
 *     raw ';' or a bad escape while WHATWG `URLSearchParams` keeps it, so the two would disagree.
 *
 * Not modelled: the apiserver drops the fieldSelector name when *another* list option fails to decode
 * (say `limit=abc`); such a request is then rejected by the apiserver with 400 anyway.
 */

/** Verbs of resource requests, exactly the apiserver's (and so RBAC's) names. */
export type KubeResourceVerb =
  'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'proxy';

/** Verbs of non-resource requests: the lowercased HTTP method, as RBAC `nonResourceURLs` rules use it. */
export type KubeNonResourceVerb = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options';

/**
 * The request's verb. `other` stands for a method the apiserver maps to no verb (resource requests) or to
 * one that no sensible rule names (non-resource requests: TRACE, CONNECT...); deny it unless a rule grants
 * every verb.
 */
export type KubeVerb = KubeResourceVerb | KubeNonResourceVerb | 'other';

/** A parsed kube API request. Frozen: parse once, pass the value along. */
export interface KubeRequest {
  /** API path below the cluster prefix, exactly as received (still percent-encoded), e.g. '/api/v1/pods'. */
  readonly path: string;
  /** False for discovery, /version, /healthz, /openapi/... and every other non-resource path. */
  readonly isResourceRequest: boolean;
  /** API group; '' for core (`/api`) and for non-resource requests. */
  readonly apiGroup: string;
  /** API version; '' for non-resource requests. */
  readonly apiVersion: string;
  /** Namespace; absent for cluster-scoped and all-namespaces requests. Set to the namespace's own name for
   * `/namespaces/<name>` and its subresources, as the apiserver does. */
  readonly namespace?: string;
  /** Resource, exactly as in the path (plural), e.g. 'pods', 'deployments', 'crontabs'. */
  readonly resource?: string;
  /** Object name, from the path or from a `metadata.name` field selector on a collection GET. */
  readonly name?: string;
  /** Subresource, e.g. 'exec', 'attach', 'portforward', 'log', 'status', 'scale', 'proxy', 'token'. */
  readonly subresource?: string;
  readonly verb: KubeVerb;
  /** True when the verb is watch (query form or legacy path form). */
  readonly isWatch: boolean;
}

/** Longest raw path accepted, in characters. */
export const MAX_KUBE_PATH_LENGTH = 8192;

/** Thrown by {@link parseKubeRequest} for a path (or query) that must not be forwarded. */
export class KubeRequestError extends Error {
  override readonly name = 'KubeRequestError';
}

const NAMESPACE_SUBRESOURCES: ReadonlySet<string> = new Set(['status', 'finalize']);
const NON_RESOURCE_VERBS: ReadonlySet<string> = new Set([
  'get',
  'head',
  'post',
  'put',
  'patch',
  'delete',
  'options',
]);

/**
 * Parses a kube API request.
 * @param method the HTTP method as received (uppercase).
 * @param path the raw path below the cluster prefix, starting with '/', without the query.
 * @param query the request's query parameters.
 * @throws KubeRequestError for hostile or ambiguous input (see the module comment).
 */
export function parseKubeRequest(method: string, path: string, query: URLSearchParams): KubeRequest {
  const segments = splitPath(path);

  const nonResource = (): KubeRequest =>
    Object.freeze({
      path,
      isResourceRequest: false,
      apiGroup: '',
      apiVersion: '',
      verb: nonResourceVerb(method),
      isWatch: false,
    });

  // Shortest resource paths: /api/<version>/<resource> and /apis/<group>/<version>/<resource>.
  let cursor: number;
  let apiGroup = '';
  if (segments[0] === 'api' && segments.length >= 3) {
    cursor = 1;
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    apiGroup = segments[1] ?? '';
    cursor = 2;
  } else {
    return nonResource();
  }
  const apiVersion = segments[cursor] ?? '';
  let parts = segments.slice(cursor + 1);

  let verb: KubeVerb;
  const first = parts[0];
  if (first === 'watch' || first === 'proxy') {
    if (parts.length < 2) {
      throw new KubeRequestError(
        `the '${first}' path prefix needs a resource after it in kube API path ${preview(path)}`,
      );
    }
    verb = first;
    parts = parts.slice(1);
  } else {
    verb = resourceVerb(method);
  }

  let namespace: string | undefined;
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1];
    const next = parts[2];
    // /namespaces/<ns>/<resource>/... is a namespaced resource; /namespaces/<ns>[/status|/finalize] is
    // the namespace object itself.
    if (next !== undefined && !NAMESPACE_SUBRESOURCES.has(next)) parts = parts.slice(2);
  }

  const resource = parts[0];
  let name = parts[1];
  const subresource = verb === 'proxy' ? undefined : parts[2];

  if (name === undefined && verb === 'get') {
    verb = wantsWatch(query) ? 'watch' : 'list';
    const selected = nameFromFieldSelector(query);
    if (selected !== undefined) name = selected;
  }
  if (name === undefined && verb === 'delete') verb = 'deletecollection';

  return Object.freeze({
    path,
    isResourceRequest: true,
    apiGroup,
    apiVersion,
    ...(namespace !== undefined && { namespace }),
    ...(resource !== undefined && { resource }),
    ...(name !== undefined && { name }),
    ...(subresource !== undefined && { subresource }),
    verb,
    isWatch: verb === 'watch',
  });
}

function resourceVerb(method: string): KubeVerb {
  switch (method) {
    case 'POST':
      return 'create';
    case 'GET':
    case 'HEAD':
      return 'get';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
    default:
      return 'other';
  }
}

function nonResourceVerb(method: string): KubeVerb {
  const lower = method.toLowerCase();
  return isNonResourceVerb(lower) ? lower : 'other';
}

function isNonResourceVerb(value: string): value is KubeNonResourceVerb {
  return NON_RESOURCE_VERBS.has(value);
}

/** Splits the raw path into percent-decoded segments, rejecting anything hostile or ambiguous. */
function splitPath(path: string): string[] {
  if (path.length > MAX_KUBE_PATH_LENGTH) {
    throw new KubeRequestError(
      `kube API path is ${path.length} characters long, more than the ${MAX_KUBE_PATH_LENGTH} allowed`,
    );
  }
  const fail = (reason: string): never => {
    throw new KubeRequestError(`${reason} in kube API path ${preview(path)}`);
  };
  if (!path.startsWith('/')) fail("missing leading '/'");
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) fail('space, control or non-ASCII character');
  }
  if (path.includes('?') || path.includes('#')) fail("'?' or '#' (pass the query separately)");
  if (path.includes('\\')) fail('backslash');

  let body = path.slice(1);
  if (body === '') return [];
  if (body.endsWith('/')) body = body.slice(0, -1);
  return body.split('/').map((raw) => {
    if (raw === '') return fail("empty segment ('//')");
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return fail(`malformed percent-encoding in segment '${raw}'`);
    }
    if (segment.includes('/')) return fail(`encoded slash in segment '${raw}'`);
    if (segment === '.' || segment === '..') return fail(`dot segment '${raw}'`);
    return segment;
  });
}

/** Rejects query values that Go's url.ParseQuery and WHATWG URLSearchParams would read differently. */
function queryValues(query: URLSearchParams, key: string): string[] {
  const values = query.getAll(key);
  for (const value of values) {
    if (value.includes(';') || value.includes('%')) {
      throw new KubeRequestError(
        `query parameter '${key}' contains ';' or '%', which parsers read differently`,
      );
    }
  }
  return values;
}

/** The apiserver's boolean query parameter rule: absent, `0` or `false` (any case) is false, else true. */
function wantsWatch(query: URLSearchParams): boolean {
  const value = queryValues(query, 'watch')[0];
  if (value === undefined) return false;
  // Go compares with strings.EqualFold, under which the long s 'ſ' (U+017F) equals 's'.
  return !(value === '0' || value.toLowerCase().replaceAll('\u017f', 's') === 'false');
}

/**
 * The name an exact `metadata.name` field selector pins a collection GET to, following the apiserver's
 * field selector grammar (terms split on unescaped ',', sorted, each `field=value`, `field==value` or
 * `field!=value`, with `\\`, `\,` and `\=` escapes in values). An invalid selector yields no name, and so
 * does a name that could not be a path segment.
 */
function nameFromFieldSelector(query: URLSearchParams): string | undefined {
  const name = fieldSelectorValue(query, 'metadata.name');
  if (name === undefined || name === '' || name === '.' || name === '..') return undefined;
  if (name.includes('/') || name.includes('%')) return undefined;
  return name;
}

/**
 * The value an exact `field=value` (or `==`) term of the request's `fieldSelector` pins `field` to, read
 * as the apiserver reads the selector (see nameFromFieldSelector); undefined when there is none or the
 * selector is invalid (the apiserver then refuses the request).
 * @throws KubeRequestError when the selector holds ';' or '%', which parsers read differently.
 */
export function fieldSelectorValue(query: URLSearchParams, field: string): string | undefined {
  const selector = queryValues(query, 'fieldSelector')[0];
  if (selector === undefined) return undefined;

  const encoder = new TextEncoder();
  const terms = splitSelectorTerms(selector)
    .filter((term) => term !== '')
    .sort((a, b) => compareBytes(encoder.encode(a), encoder.encode(b)));
  let value: string | undefined;
  for (const term of terms) {
    const parsed = parseSelectorTerm(term);
    if (parsed === undefined) return undefined; // one bad term voids the whole selector
    if (value === undefined && parsed.operator !== '!=' && parsed.field === field) value = parsed.value;
  }
  return value;
}

function splitSelectorTerms(selector: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (escaped) escaped = false;
    else if (c === '\\') escaped = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

const SELECTOR_OPERATORS = ['!=', '==', '='] as const;

function parseSelectorTerm(
  term: string,
): { field: string; operator: (typeof SELECTOR_OPERATORS)[number]; value: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const operator of SELECTOR_OPERATORS) {
      if (term.startsWith(operator, i)) {
        const value = unescapeSelectorValue(term.slice(i + operator.length));
        return value === undefined ? undefined : { field: term.slice(0, i), operator, value };
      }
    }
  }
  return undefined;
}

function unescapeSelectorValue(raw: string): string | undefined {
  let out = '';
  let escaped = false;
  for (const c of raw) {
    if (escaped) {
      if (c !== '\\' && c !== ',' && c !== '=') return undefined;
      out += c;
      escaped = false;
    } else if (c === '\\') {
      escaped = true;
    } else if (c === ',' || c === '=') {
      return undefined;
    } else {
      out += c;
    }
  }
  return escaped ? undefined : out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return a.length - b.length;
}

/** The path for an error message: JSON-quoted (so control characters show) and cut short. */
function preview(path: string): string {
  return JSON.stringify(path.length > 120 ? `${path.slice(0, 120)}…` : path);
}

/**
 * A request line's path and query as the kube-apiserver will read them, or undefined if the parser refuses
 * it: for a hop that has the `:path` of a stream rather than a parsed URL.
 */
export function parseKubeTarget(
  method: string,
  pathAndQuery: string,
): { kube: KubeRequest; query: URLSearchParams } | undefined {
  const q = pathAndQuery.indexOf('?');
  const query = new URLSearchParams(q === -1 ? '' : pathAndQuery.slice(q + 1));
  try {
    return {
      kube: parseKubeRequest(method, q === -1 ? pathAndQuery : pathAndQuery.slice(0, q), query),
      query,
    };
  } catch {
    return undefined;
  }
}
