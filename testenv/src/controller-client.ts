// The few calls tests and the demo make to a running ztka controller, in one place.
import https from 'node:https';
import { parse } from 'yaml';

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
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // A length always: Node sends a DELETE's body unframed otherwise, which the controller rightly refuses.
    const headers = {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(payload === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
    };
    const req = https.request(`${opts.url}${uri}`, { method, ca: opts.ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: (text.startsWith('{') ? JSON.parse(text) : text) as T }),
      );
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Logs in as a CLI would and returns the API key. */
export async function loginApiKey(
  opts: { url: string; ca: string },
  username: string,
  password: string,
): Promise<string> {
  const res = await controllerRequest<{ apiKey?: { key: string } }>(
    { ...opts, token: null },
    'POST',
    '/v1/auth/login',
    { username, password, client: 'cli', keyName: 'ztka tests' },
  );
  if (res.status !== 200 || !res.body.apiKey)
    throw new Error(`login as ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.apiKey.key;
}

/** Downloads a kubeconfig (YAML text) with an API key; `cluster` limits it to one cluster. */
export async function downloadKubeconfig(
  opts: { url: string; ca: string; token: string },
  body: { cluster?: string; exec?: boolean } = {},
): Promise<string> {
  const res = await controllerRequest<string>(opts, 'POST', '/v1/kubeconfig', body);
  if (res.status !== 200 || typeof res.body !== 'string')
    throw new Error(`kubeconfig download: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The bearer token held by a downloaded (non-exec) kubeconfig. */
export function kubeconfigToken(kubeconfig: string): string {
  const users = (parse(kubeconfig) as { users?: { user?: { token?: string } }[] }).users ?? [];
  const token = users[0]?.user?.token;
  if (!token) throw new Error('the kubeconfig holds no token');
  return token;
}
