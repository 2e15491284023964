import fs from 'node:fs/promises';
import { stringify } from 'yaml';

/** Who the kubeconfig acts as: a client certificate, or a bearer token (a service account's, say). */
export type Credential = { clientCert: string; clientKey: string } | { token: string };

export interface KubeconfigSpec {
  name: string;
  server: string;
  caCert: string;
  credential: Credential;
}

async function b64(file: string): Promise<string> {
  return (await fs.readFile(file)).toString('base64');
}

/** A self-contained kubeconfig (certificates embedded) so it still works when copied elsewhere. */
export async function renderKubeconfig(c: KubeconfigSpec): Promise<string> {
  const user =
    'token' in c.credential
      ? { token: c.credential.token }
      : {
          'client-certificate-data': await b64(c.credential.clientCert),
          'client-key-data': await b64(c.credential.clientKey),
        };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: c.name, cluster: { server: c.server, 'certificate-authority-data': await b64(c.caCert) } },
    ],
    users: [{ name: c.name, user }],
    contexts: [{ name: c.name, context: { cluster: c.name, user: c.name } }],
    'current-context': c.name,
    preferences: {},
  });
}
