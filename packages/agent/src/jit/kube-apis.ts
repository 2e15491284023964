// The typed clients of @kubernetes/client-node for the objects the JIT accounts are made of (service
// accounts and their tokens, RBAC, access reviews), carried by the agent's own connection to its apiserver:
// its pooled TLS connections and its credential, re-read as it rotates, rather than a second HTTP stack.
import {
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  ResponseContext,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  wrapHttpLibrary,
  type RequestContext,
} from '@kubernetes/client-node';
import { upstreamSend, type UpstreamTarget } from '../upstream.js';

export interface KubeApis {
  core: CoreV1Api;
  rbac: RbacAuthorizationV1Api;
  authorization: AuthorizationV1Api;
}

/** The server the clients are configured with: never dialled, only the path and query are sent on. */
const UNUSED_SERVER = 'https://apiserver.invalid';

export function kubeApis(target: () => Promise<UpstreamTarget>): KubeApis {
  const httpApi = wrapHttpLibrary({
    async send(request: RequestContext): Promise<ResponseContext> {
      const url = new URL(request.getUrl());
      const body = request.getBody();
      const contentType = request.getHeaders()['Content-Type'] ?? 'application/json';
      const res = await upstreamSend(
        await target(),
        request.getHttpMethod(),
        url.pathname + url.search,
        typeof body === 'string' ? { text: body, contentType } : undefined,
      );
      const data = Buffer.from(res.text);
      return new ResponseContext(
        res.status,
        { 'content-type': 'application/json' },
        { text: async () => res.text, binary: async () => data },
      );
    },
  });
  const config = createConfiguration({ baseServer: new ServerConfiguration(UNUSED_SERVER, {}), httpApi });
  return {
    core: new CoreV1Api(config),
    rbac: new RbacAuthorizationV1Api(config),
    authorization: new AuthorizationV1Api(config),
  };
}

/** The options that make a PATCH a JSON merge patch (the clients default to a JSON patch). */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The HTTP status of a failed call, or undefined for a failure that is not the apiserver's answer. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** The most of a failure a log line keeps: the clients' errors carry the apiserver's whole answer. */
const FAILURE_MAX = 300;

/** A failed call in one short line for the log: the apiserver's status and its Status message, cut. */
export function failureOf(err: unknown): string {
  if (!(err instanceof ApiException))
    return (err instanceof Error ? err.message : String(err)).slice(0, FAILURE_MAX);
  const body: unknown = err.body;
  let message = typeof body === 'string' ? body : JSON.stringify(body);
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown };
    if (typeof status?.message === 'string') message = status.message;
  } catch {
    /* not JSON: keep the text */
  }
  return `the apiserver answered ${err.code}: ${message}`.replace(/\s+/g, ' ').slice(0, FAILURE_MAX);
}

/** Resolves `call`, or `fallback` when the apiserver answers with one of `statuses`. */
export async function unless<T, F>(call: Promise<T>, statuses: number[], fallback: F): Promise<T | F> {
  try {
    return await call;
  } catch (err) {
    const status = statusOf(err);
    if (status !== undefined && statuses.includes(status)) return fallback;
    throw err;
  }
}
