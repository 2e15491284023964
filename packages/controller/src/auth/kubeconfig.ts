// Kubeconfigs for the clusters a person can reach: one context per cluster, each pointing at the
// controller's path-prefixed proxy with the controller's CA embedded. The user entry holds either a
// kubeconfig credential or, for the exec variant, a call to `ztka token` and no secret at all.
import { stringify } from 'yaml';

export interface KubeconfigInput {
  publicUrl: string;
  caCertPem: string;
  username: string;
  clusters: readonly string[];
  /** The credential for every context; absent for the exec variant. */
  token?: string;
  /**
   * Another address for the same controller, with the name its certificate carries: the browser shell's
   * kubectl reaches it through its sandbox's relay and its own Unix socket, TLS end to end (kubectl sends
   * no bearer token over plain HTTP, and should not).
   */
  via?: { url: string; tlsServerName: string };
}

export function renderKubeconfig(input: KubeconfigInput): string {
  const ca = Buffer.from(input.caCertPem).toString('base64');
  const userFor = (cluster: string) =>
    input.token === undefined ? `${input.username}@${cluster}` : input.username;
  const users =
    input.token === undefined
      ? input.clusters.map((cluster) => ({
          name: userFor(cluster),
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: 'ztka',
              args: ['token', '--server', input.publicUrl, '--cluster', cluster],
              interactiveMode: 'Never',
              provideClusterInfo: false,
              installHint: 'ztka token needs the ztka CLI on your PATH, logged in with `ztka login`.',
            },
          },
        }))
      : [{ name: input.username, user: { token: input.token } }];
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: input.clusters.map((name) => ({
      name,
      cluster: {
        server: `${input.via?.url ?? input.publicUrl}/k8s/clusters/${name}`,
        'certificate-authority-data': ca,
        ...(input.via ? { 'tls-server-name': input.via.tlsServerName } : {}),
      },
    })),
    users,
    contexts: input.clusters.map((name) => ({ name, context: { cluster: name, user: userFor(name) } })),
    'current-context': input.clusters[0] ?? '',
  });
}
