// The few calls tests and the demo make to a running ztka controller, in one place.
import https from 'node:https';
import { stringify } from 'yaml';

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** A JSON request to the controller; `token` null sends none. Non-JSON answers come back as text. */
export function controllerRequest<T = unknown>(
  opts: { url: string; ca: string; token: string | null },
  method: string,
  uri: string,
  body?: unknown,
): Promise<ApiResponse<T>> {
  return new Promise((resolve, reject) => {
    const headers = {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    const req = https.request(`${opts.url}${uri}`, { method, ca: opts.ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: (text.startsWith('{') ? JSON.parse(text) : text) as T }),
      );
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A kubeconfig that reaches `cluster` through the controller with a bearer token, its CA embedded. */
export function controllerKubeconfig(opts: {
  url: string;
  ca: string;
  cluster: string;
  token: string;
  user?: string;
}): string {
  const user = opts.user ?? 'ztka';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: opts.cluster,
        cluster: {
          server: `${opts.url}/k8s/clusters/${opts.cluster}`,
          'certificate-authority-data': Buffer.from(opts.ca).toString('base64'),
        },
      },
    ],
    users: [{ name: user, user: { token: opts.token } }],
    contexts: [{ name: opts.cluster, context: { cluster: opts.cluster, user } }],
    'current-context': opts.cluster,
  });
}
