// Pod Security of the namespaces ztka grants, on the real controller, agent, kube-apiserver (PodSecurity
// admission is on by default) and kubectl. The `admin` ClusterRole a NAMESPACE_ADMIN is bound to lets them
// create any pod, privileged ones included, in a namespace without Pod Security labels; the org setting
// namespacePodSecurity has the agent label each granted namespace before it binds the person there, never
// lowering a stricter label, and failing the request when it cannot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  kubectl,
  namespace,
  serviceAccountKubeconfig,
  testEnv,
  Ztka,
  type KubectlError,
  type TestEnv,
  type TestNamespace,
} from '@ztka/testenv';

const CLUSTER = 'psa';
const P = 'pod-security.kubernetes.io/';
const IMAGE = 'registry.invalid/fake:1';

let env: TestEnv;
let z: Ztka;
let jitNs: string;
let open: TestNamespace;
let strict: TestNamespace;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
  jitNs = z.jitNamespaces.get(CLUSTER)?.namespace ?? '';
  [open, strict] = await Promise.all([namespace(env, 'psa-open'), namespace(env, 'psa-strict')]);
});
after(async () => {
  await z?.stop();
  await Promise.all([open?.cleanup(), strict?.cleanup(), ...cleanups.map((c) => c().catch(() => {}))]);
});

async function namespaceAdmin(username: string, ns: string, cluster = CLUSTER, project = 'desktop') {
  const user = await z.createUser(username, [{ role: 'NAMESPACE_ADMIN', project, namespaces: [ns] }]);
  return z.kubeconfig(cluster, user.apiKey);
}

const setLevel = async (level: string) => {
  const res = await z.api<{ namespacePodSecurity: string }>('PATCH', '/v1/settings', {
    namespacePodSecurity: level,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.namespacePodSecurity, level);
};

const labelsOf = async (ns: string): Promise<Record<string, string>> =>
  JSON.parse(await env.admin(['get', 'namespace', ns, '-o', 'jsonpath={.metadata.labels}'])) as Record<
    string,
    string
  >;

const podSecurityLabels = async (ns: string) =>
  Object.fromEntries(
    Object.entries(await labelsOf(ns)).filter(([k]) => k.startsWith(P) || k === 'ztka.dev/pod-security'),
  );

const privilegedPod = (ns: string, name: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { containers: [{ name: 'main', image: IMAGE, securityContext: { privileged: true } }] },
  });

/** A pod the restricted level admits. */
const restrictedPod = (ns: string, name: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'main',
          image: IMAGE,
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  });

const create = (kubeconfig: string, manifest: string) =>
  kubectl(['create', '-f', '-'], { kubeconfig, input: manifest });

const refused = (p: Promise<unknown>, ...patterns: RegExp[]) =>
  assert.rejects(p, (err: KubectlError) => {
    for (const pattern of patterns) assert.match(err.stderr, pattern);
    return true;
  });

const enforced = (level: string) => ({
  [`${P}enforce`]: level,
  [`${P}enforce-version`]: 'latest',
  [`${P}warn`]: level,
  [`${P}warn-version`]: 'latest',
  [`${P}audit`]: level,
  [`${P}audit-version`]: 'latest',
  'ztka.dev/pod-security': level,
});

let alice: string;

test('with the setting off (the default), a NAMESPACE_ADMIN runs a privileged pod: the gap', async () => {
  const settings = await z.api<{ namespacePodSecurity: string }>('GET', '/v1/settings');
  assert.equal(settings.body.namespacePodSecurity, 'off');
  alice = await namespaceAdmin('alice', open.name);
  await create(alice, privilegedPod(open.name, 'privileged-1'));
  const privileged = await env.admin([
    'get',
    'pod',
    'privileged-1',
    '-n',
    open.name,
    '-o',
    'jsonpath={.spec.containers[0].securityContext.privileged}',
  ]);
  assert.equal(privileged, 'true');
  assert.deepEqual(await podSecurityLabels(open.name), {}, 'ztka labelled nothing');
});

test('once the org requires restricted, the namespace is labelled on the next request and privileged pods are refused', async () => {
  await setLevel('restricted');
  // Alice's account was bound while the setting was off; her next request labels before it binds again.
  await kubectl(['get', 'pods', '-n', open.name], { kubeconfig: alice });
  assert.deepEqual(await podSecurityLabels(open.name), enforced('restricted'));

  await refused(
    create(alice, privilegedPod(open.name, 'privileged-2')),
    /Forbidden/,
    /violates PodSecurity "restricted:latest"/,
    /privileged/,
  );
  await create(alice, restrictedPod(open.name, 'compliant'));
  // The warn label tells whoever applies a workload that its pods will be refused, not only its ReplicaSet.
  const deployment = JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'privileged-web', namespace: open.name },
    spec: {
      selector: { matchLabels: { app: 'privileged-web' } },
      template: {
        metadata: { labels: { app: 'privileged-web' } },
        spec: { containers: [{ name: 'main', image: IMAGE, securityContext: { privileged: true } }] },
      },
    },
  });
  const applied = await create(alice, deployment);
  assert.match(applied.stderr, /Warning: would violate PodSecurity "restricted:latest"/);
  // Admission refuses new pods; one admitted before the label is the cluster admin's to remove.
  await env.admin(['get', 'pod', 'privileged-1', '-n', open.name]);
});

test('the namespace admin cannot remove or lower the label through ztka, and the cluster would refuse it too', async () => {
  for (const args of [
    ['label', 'namespace', open.name, `${P}enforce-`],
    ['label', 'namespace', open.name, `${P}enforce=privileged`, '--overwrite'],
    ['annotate', 'namespace', open.name, 'x=y'],
    ['delete', 'namespace', open.name],
  ])
    await refused(
      kubectl(args, { kubeconfig: alice }),
      /Forbidden/,
      /NAMESPACE_ADMIN cannot change the namespace itself/,
    );
  assert.equal((await labelsOf(open.name))[`${P}enforce`], 'restricted');

  // Her service account's bindings alone (the admin ClusterRole) do not allow it either.
  const sa = `system:serviceaccount:${jitNs}:alice`;
  for (const verb of ['patch', 'update', 'delete'])
    assert.equal(
      (
        await env
          .admin(['auth', 'can-i', verb, `namespace/${open.name}`, `--as=${sa}`])
          .catch((err: KubectlError) => err.stdout)
      ).trim(),
      'no',
      verb,
    );
  assert.equal(
    (await env.admin(['auth', 'can-i', 'create', 'pods', '-n', open.name, `--as=${sa}`])).trim(),
    'yes',
  );
});

test('a stricter label a cluster admin set is never lowered; nor is one ztka set when the level goes down', async () => {
  await env.admin(['label', 'namespace', strict.name, `${P}enforce=restricted`, `${P}enforce-version=v1.30`]);
  await setLevel('baseline');
  const bob = await namespaceAdmin('bob', strict.name);
  await kubectl(['get', 'pods', '-n', strict.name], { kubeconfig: bob });
  assert.deepEqual(await podSecurityLabels(strict.name), {
    [`${P}enforce`]: 'restricted',
    [`${P}enforce-version`]: 'v1.30',
    [`${P}warn`]: 'baseline',
    [`${P}warn-version`]: 'latest',
    [`${P}audit`]: 'baseline',
    [`${P}audit-version`]: 'latest',
    'ztka.dev/pod-security': 'baseline',
  });
  await refused(
    create(bob, privilegedPod(strict.name, 'privileged')),
    /violates PodSecurity "restricted:v1.30"/,
  );

  await kubectl(['get', 'pods', '-n', open.name], { kubeconfig: alice });
  assert.deepEqual(await podSecurityLabels(open.name), enforced('restricted'));
});

test('a namespace a cluster admin exempted is left unlabelled, and its pods as privileged as they need', async () => {
  // e.g. a CNI's or a node agent's namespace that a team also administers
  const system = await namespace(env, 'psa-system');
  cleanups.push(() => system.cleanup());
  await env.admin(['label', 'namespace', system.name, 'ztka.dev/pod-security=exempt']);
  const erin = await namespaceAdmin('erin', system.name);
  await create(erin, privilegedPod(system.name, 'node-agent'));
  assert.deepEqual(await podSecurityLabels(system.name), { 'ztka.dev/pod-security': 'exempt' });
  // Only a cluster admin can exempt a namespace: its namespace admin cannot.
  await refused(
    kubectl(['label', 'namespace', open.name, 'ztka.dev/pod-security=exempt', '--overwrite'], {
      kubeconfig: alice,
    }),
    /NAMESPACE_ADMIN cannot change the namespace itself/,
  );
});

test('turning the setting off leaves the labels as they are', async () => {
  await setLevel('off');
  await kubectl(['get', 'pods', '-n', open.name], { kubeconfig: alice });
  assert.deepEqual(await podSecurityLabels(open.name), enforced('restricted'));
  await refused(create(alice, privilegedPod(open.name, 'privileged-3')), /violates PodSecurity/);
});

test('an agent that may not label namespaces refuses the grant with a clear error, and makes nothing', async () => {
  // An agent installed with a bootstrap manifest from before the setting: it may bind people, but it may
  // not patch namespaces.
  const [agentNs, target] = await Promise.all([namespace(env, 'psa-jit'), namespace(env, 'psa-legacy')]);
  const role = `psa-legacy-agent-${randomBytes(4).toString('hex')}`;
  cleanups.push(
    () => agentNs.cleanup(),
    () => target.cleanup(),
    () => env.admin(['delete', 'clusterrole', role, '--ignore-not-found']),
    () => env.admin(['delete', 'clusterrolebinding', role, '--ignore-not-found']),
  );
  const rbac = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'agent', namespace: agentNs.name } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'agent', namespace: agentNs.name },
      rules: [
        {
          apiGroups: [''],
          resources: ['serviceaccounts'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
        { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'agent', namespace: agentNs.name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'agent' },
      subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: agentNs.name }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: role },
      rules: [
        {
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['clusterrolebindings', 'rolebindings'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
        },
        {
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['clusterroles'],
          resourceNames: ['admin'],
          verbs: ['bind'],
        },
        { apiGroups: [''], resources: ['namespaces'], resourceNames: ['kube-system'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: 'agent', namespace: agentNs.name }],
    },
  ];
  await env.admin(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }));
  const kubeconfig = await serviceAccountKubeconfig(
    env,
    agentNs.name,
    'agent',
    path.join(z.dir, 'legacy-agent.kubeconfig'),
  );
  await z.connectCluster('legacy', kubeconfig, 'legacy', { jitNamespace: agentNs.name });
  const carol = await namespaceAdmin('carol', target.name, 'legacy', 'legacy');
  await kubectl(['get', 'pods', '-n', target.name], { kubeconfig: carol });

  await setLevel('restricted');
  const notLabelled = [
    /Forbidden/,
    new RegExp(
      `requires Pod Security "restricted" in the namespaces it grants, and the ztka agent could not label ` +
        `the namespace "${target.name}": 403 .*cannot get resource "namespaces"`,
    ),
    /apply this cluster's current bootstrap manifest/,
    /refused rather than granted without it/,
  ];
  // Carol was bound while the setting was off: her next request needs the label, and fails without it.
  await refused(kubectl(['get', 'pods', '-n', target.name], { kubeconfig: carol }), ...notLabelled);
  // (Without --validate=false kubectl would first fetch the OpenAPI schema, and print only "unknown" for
  // that refusal.)
  await refused(
    kubectl(['create', '--validate=false', '-f', '-'], {
      kubeconfig: carol,
      input: privilegedPod(target.name, 'privileged'),
    }),
    ...notLabelled,
  );
  assert.deepEqual(await podSecurityLabels(target.name), {});

  // Dave's first request makes nothing: no account, no binding. (--raw, because kubectl prints only
  // "unknown" for a refusal of its first discovery request, which is what a plain get would be here.)
  const dave = await namespaceAdmin('dave', target.name, 'legacy', 'legacy');
  await refused(
    kubectl(['get', '--raw', `/k8s/clusters/legacy/api/v1/namespaces/${target.name}/pods`], {
      kubeconfig: dave,
    }),
    ...notLabelled,
  );
  assert.equal(
    await env.admin(['get', 'serviceaccounts', '-n', agentNs.name, '-l', 'ztka.dev/jit=true', '-o', 'name']),
    'serviceaccount/carol\n',
    'no account made for dave',
  );
  assert.equal(
    await env.admin([
      'get',
      'rolebindings',
      '-n',
      target.name,
      '-l',
      'ztka.dev/service-account=dave',
      '-o',
      'name',
    ]),
    '',
    'no binding made for dave',
  );

  // The same agent grants the namespace once the org no longer requires labels: the failure was the label.
  await setLevel('off');
  await kubectl(['get', 'pods', '-n', target.name], { kubeconfig: dave });
});
