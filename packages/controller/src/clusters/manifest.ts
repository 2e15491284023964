import { stringify } from 'yaml';
import { AGENT_NAME, READ_ONLY_ROLE, SYSTEM_NAMESPACE, readOnlyClusterRole } from '@ztka/protocol';

export interface BootstrapManifestInput {
  cluster: string;
  controllerUrl: string;
  caCertPem: string;
  bootstrapToken: string;
  image: string;
}

/** Cluster roles the agent may bind a user's service account to, and nothing else. */
export const BINDABLE_ROLES = ['cluster-admin', 'admin', 'view', READ_ONLY_ROLE];

const labels = { 'app.kubernetes.io/name': AGENT_NAME, 'app.kubernetes.io/part-of': 'ztka' };
const RW = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/**
 * The manifest an administrator applies to a cluster to install its agent: namespace, the agent's
 * ServiceAccount and least-privilege RBAC, the Secret with its single-use bootstrap token and the
 * controller's CA, and the Deployment. The agent may manage service accounts and their tokens only in its
 * own namespace, read and label namespaces (kube-system is its identity; the org may require Pod Security
 * labels), write only its own Secret, and bind users only to the roles in BINDABLE_ROLES (RBAC's `bind`
 * verb prevents any escalation beyond them).
 */
export function bootstrapManifest(input: BootstrapManifestInput): string {
  const ns = SYSTEM_NAMESPACE;
  const docs: object[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: AGENT_NAME, namespace: ns, labels } },
    readOnlyClusterRole(labels),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: AGENT_NAME, namespace: ns, labels },
      rules: [
        { apiGroups: [''], resources: ['serviceaccounts'], verbs: RW },
        { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
        {
          apiGroups: [''],
          resources: ['secrets'],
          resourceNames: [AGENT_NAME],
          verbs: ['get', 'update', 'patch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: AGENT_NAME, labels },
      rules: [
        {
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['clusterrolebindings', 'rolebindings'],
          verbs: RW,
        },
        {
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['clusterroles'],
          resourceNames: BINDABLE_ROLES,
          verbs: ['bind'],
        },
        // `get` on kube-system is the cluster's identity; `patch` raises the Pod Security labels of the
        // namespaces a NAMESPACE_ADMIN is granted, when the org requires it. It gives the agent no power it
        // lacks: `bind` on `cluster-admin` is more.
        { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: AGENT_NAME, namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: AGENT_NAME },
      subjects: [{ kind: 'ServiceAccount', name: AGENT_NAME, namespace: ns }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: AGENT_NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: AGENT_NAME },
      subjects: [{ kind: 'ServiceAccount', name: AGENT_NAME, namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: AGENT_NAME, namespace: ns, labels },
      type: 'Opaque',
      stringData: {
        'controller-url': input.controllerUrl,
        'ca.crt': input.caCertPem,
        'bootstrap-token': input.bootstrapToken,
        cluster: input.cluster,
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: AGENT_NAME, namespace: ns, labels },
      spec: {
        replicas: 1,
        // A cluster has one tunnel, and a second agent may not take it over while the first answers: an
        // update stops the old pod before it starts the new one, which then connects at once.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: AGENT_NAME,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'agent',
                image: input.image,
                args: ['--credential-secret', `${ns}/${AGENT_NAME}`],
                env: [
                  {
                    name: 'ZTKA_CONTROLLER_URL',
                    valueFrom: { secretKeyRef: { name: AGENT_NAME, key: 'controller-url' } },
                  },
                  {
                    name: 'ZTKA_BOOTSTRAP_TOKEN',
                    valueFrom: { secretKeyRef: { name: AGENT_NAME, key: 'bootstrap-token' } },
                  },
                  { name: 'ZTKA_CA_FILE', value: '/etc/ztka/ca.crt' },
                ],
                volumeMounts: [{ name: 'ca', mountPath: '/etc/ztka', readOnly: true }],
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
            volumes: [
              { name: 'ca', secret: { secretName: AGENT_NAME, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            ],
          },
        },
      },
    },
  ];
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}
