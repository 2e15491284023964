// The Helm charts under deploy/helm, with helm built from its Go module (testenv/build.sh helm):
// - both charts pass `helm lint --strict`;
// - every documented variant of the controller chart renders to objects the real apiserver accepts
//   (`kubectl apply --dry-run=server`), its pod is admitted in a namespace that enforces the `restricted`
//   Pod Security Standard, and the settings it gives the controller are ones the controller's own loader
//   accepts, each ZTKA_* variable one it reads;
// - the agent chart renders the bootstrap manifest's RBAC, Secret keys, args, env and security contexts, so
//   the two cannot drift apart;
// - the agent chart installed for real: an agent holding a token of exactly the chart's ServiceAccount, with
//   the chart's args and env, registers with the controller and serves kubectl, and `kubectl auth can-i`
//   refuses that account everything else.
// Certificate (cert-manager) and ServiceMonitor (prometheus-operator) are checked against minimal CRDs of
// those kinds (test/e2e/fixtures/helm-crds.yaml), installed for this test if the cluster lacks them and
// removed afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import {
  type HelmError,
  KubectlError,
  Ztka,
  helm,
  kubectl,
  namespace,
  repoRootPath,
  serviceAccountKubeconfig,
  testEnv,
  type TestEnv,
  type TestNamespace,
} from '@ztka/testenv';
import { bootstrapManifest } from '@ztka/controller/clusters/manifest';
import { ConfigError, loadConfig, usage } from '@ztka/controller/config';
import { PRODUCT_VERSION } from '@ztka/protocol';

const CHARTS = path.join(repoRootPath, 'deploy', 'helm');
const CONTROLLER_CHART = path.join(CHARTS, 'ztka-controller');
const AGENT_CHART = path.join(CHARTS, 'ztka-agent');
const CRD_FIXTURES = path.join(repoRootPath, 'test', 'e2e', 'fixtures', 'helm-crds.yaml');
const RELEASE = 'ztka-controller';

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
  }[];
  ports?: { name: string; containerPort: number; protocol: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: object;
  resources?: object;
}
interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: object;
  configMap?: { name: string };
}
interface PodSpec {
  serviceAccountName?: string;
  securityContext?: object;
  containers: Container[];
  volumes?: Volume[];
  affinity?: { podAntiAffinity?: object };
}
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    template?: { metadata?: object; spec: PodSpec };
    [key: string]: unknown;
  };
  rules?: unknown[];
  roleRef?: unknown;
  subjects?: unknown[];
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}

function objects(yaml: string): Obj[] {
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function only(objs: Obj[], kind: string, name?: string): Obj {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''} in ${objs.map((o) => o.kind)}`);
  return found[0] as Obj;
}

function podSpec(objs: Obj[]): PodSpec {
  const spec = only(objs, 'Deployment').spec?.template?.spec;
  assert.ok(spec);
  return spec;
}

let tmp: string;
let valuesCount = 0;

/** Values as a file: helm reads JSON as YAML, and multi-line PEM survives without --set escaping. */
async function valuesFile(values: object): Promise<string> {
  const file = path.join(tmp, `values-${valuesCount++}.json`);
  await fs.writeFile(file, JSON.stringify(values));
  return file;
}

async function render(chart: string, release: string, ns: string, values: object): Promise<string> {
  return (await helm(['template', release, chart, '-n', ns, '-f', await valuesFile(values)])).stdout;
}

/** A PEM certificate to stand for the controller's CA where only its text matters. */
const FAKE_CA = `-----BEGIN CERTIFICATE-----\n${randomBytes(300).toString('base64')}\n-----END CERTIFICATE-----\n`;

const AGENT_VALUES = {
  controllerUrl: 'https://ztka.example.com',
  caCert: FAKE_CA,
  bootstrapToken: 'ztkb_0123456789abcdef',
  cluster: 'edge-1',
};

/** Several replicas, with everything they must share (docs/install.md, "High availability"). */
const HA_VALUES = {
  replicaCount: 3,
  publicUrl: 'https://ztka.example.com',
  tls: { source: 'secret', secretName: 'ztka-tls' },
  database: { type: 'postgres', postgres: { existingSecret: 'ztka-db' } },
  secretsKeySecret: { name: 'ztka-keys' },
  audit: { keySecret: { name: 'ztka-keys' } },
  persistence: { enabled: false },
  service: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' },
  proxyProtocolFrom: ['10.0.0.5', '10.0.1.0/24'],
  shutdownDelaySeconds: 10,
};

/** What the downward API gives a pod, for the variables that name it. */
const DOWNWARD_VALUES: Record<string, string> = { 'status.podIP': '10.244.1.7' };

/** The documented variants of the controller chart (README.md), and what each must render besides the basics. */
const CONTROLLER_VARIANTS: { name: string; values: object; kinds: string[] }[] = [
  { name: 'default values', values: {}, kinds: ['PersistentVolumeClaim', 'NetworkPolicy'] },
  {
    name: 'Ingress with TLS from a Secret',
    values: {
      publicUrl: 'https://ztka.example.com',
      tls: { source: 'secret', secretName: 'ztka-tls' },
      ingress: {
        enabled: true,
        className: 'nginx',
        annotations: { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' },
      },
    },
    kinds: ['Ingress'],
  },
  {
    name: 'cert-manager Certificate',
    values: {
      publicUrl: 'https://ztka.example.com:8443',
      tls: {
        source: 'certManager',
        certManager: {
          issuerRef: { name: 'ztka-ca', kind: 'ClusterIssuer' },
          extraDnsNames: ['ztka.internal'],
        },
      },
    },
    kinds: ['Certificate'],
  },
  {
    name: 'PostgreSQL from a Secret, audit key from a Secret',
    values: {
      database: { type: 'postgres', postgres: { existingSecret: 'ztka-db' } },
      audit: { keySecret: { name: 'ztka-audit-key' }, webhookUrl: 'https://audit.example.com:9443/ztka' },
      persistence: { size: '1Gi', storageClassName: 'standard' },
    },
    kinds: ['PersistentVolumeClaim'],
  },
  {
    name: 'an existing claim',
    values: { persistence: { existingClaim: 'ztka-data' } },
    kinds: [],
  },
  {
    name: 'metrics with a ServiceMonitor, TLS from a Secret',
    values: {
      publicUrl: 'https://ztka.example.com',
      tls: { source: 'secret', secretName: 'ztka-tls' },
      metrics: {
        enabled: true,
        tokenSecret: { name: 'ztka-metrics' },
        serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
      },
    },
    kinds: ['ServiceMonitor'],
  },
  {
    name: 'three replicas on PostgreSQL, the certificate and keys from Secrets, behind a PROXY protocol balancer',
    values: HA_VALUES,
    kinds: ['PodDisruptionBudget', 'NetworkPolicy'],
  },
  {
    name: 'a LoadBalancer, the admin password from a Secret, more settings, no NetworkPolicy',
    values: {
      publicUrl: 'https://203.0.113.10',
      service: { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.51.100.0/24'] },
      adminPassword: { existingSecret: 'ztka-admin' },
      config: { rateLimitPerPerson: 50, bootstrapTokenTtlSeconds: 3600 },
      networkPolicy: { enabled: false },
      metrics: { enabled: true, tokenSecret: { name: 'ztka-metrics' } },
    },
    kinds: ['ConfigMap'],
  },
];

/** What a Secret key stands for when the controller's settings are loaded from a rendered Deployment. */
const SECRET_VALUES: Record<string, string> = {
  ZTKA_DATABASE: 'postgres://ztka@db.example.com:5432/ztka',
  ZTKA_ADMIN_PASSWORD: 'correct horse battery staple',
};

describe('Helm charts', () => {
  let env: TestEnv;
  let ns: TestNamespace;
  const createdCrds: string[] = [];

  before(async () => {
    env = await testEnv();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-helm-'));
    // Built on first use (a few minutes once), then cached; `npm test` builds it before the tests start.
    await helm(['version', '--short']);
    ns = await namespace(env, 'helm');
    await env.admin([
      'label',
      'namespace',
      ns.name,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/warn=restricted',
    ]);
    for (const crd of objects(await fs.readFile(CRD_FIXTURES, 'utf8'))) {
      const name = crd.metadata.name;
      const exists = await env.admin(['get', 'crd', name, '--ignore-not-found', '-o', 'name']);
      if (exists.trim()) continue;
      await env.admin(['create', '-f', '-'], stringify(crd));
      createdCrds.push(name);
    }
    if (createdCrds.length > 0)
      await env.admin([
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        ...createdCrds.map((n) => `crd/${n}`),
      ]);
  });

  after(async () => {
    await ns?.cleanup();
    if (createdCrds.length > 0)
      await env.admin(['delete', '--wait=false', ...createdCrds.map((n) => `crd/${n}`)]).catch(() => {});
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('both charts carry the product version as appVersion', async () => {
    for (const chart of [CONTROLLER_CHART, AGENT_CHART]) {
      const meta = (await helm(['show', 'chart', chart])).stdout;
      assert.match(meta, new RegExp(`^appVersion: "?${PRODUCT_VERSION.replace(/\./g, '\\.')}"?$`, 'm'));
    }
  });

  test('helm lint --strict passes for both charts', async () => {
    const controller = await helm(['lint', '--strict', CONTROLLER_CHART]);
    assert.match(controller.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const agent = await helm(['lint', '--strict', AGENT_CHART, '-f', await valuesFile(AGENT_VALUES)]);
    assert.match(agent.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    // The agent chart cannot guess the controller or the token: lint only notes them, and rendering
    // without them says what is missing.
    assert.match((await helm(['lint', '--strict', AGENT_CHART])).stderr, /controllerUrl is required/);
    await assert.rejects(render(AGENT_CHART, 'ztka-agent', 'ztka-system', {}), (err: HelmError) =>
      /controllerUrl is required/.test(err.stderr),
    );
  });

  describe('ztka-controller', () => {
    const knownVariables = new Set(usage().match(/ZTKA_[A-Z0-9_]+/g));

    for (const variant of CONTROLLER_VARIANTS) {
      test(`${variant.name}: the apiserver accepts it, restricted Pod Security admits its pod, the controller accepts its settings`, async () => {
        const yaml = await render(CONTROLLER_CHART, RELEASE, ns.name, variant.values);
        const objs = objects(yaml);
        for (const kind of ['ServiceAccount', 'Service', 'Deployment', ...variant.kinds]) only(objs, kind);

        const applied = await kubectl(['apply', '--dry-run=server', '-n', ns.name, '-f', '-'], {
          kubeconfig: env.kubeconfig,
          input: yaml,
        });
        assert.match(applied.stdout, /deployment\.apps\/ztka-controller created \(server dry run\)/);
        for (const o of objs)
          assert.ok(
            applied.stdout.includes(`/${o.metadata.name} created (server dry run)`),
            `${o.kind} ${o.metadata.name} in:\n${applied.stdout}`,
          );
        assert.doesNotMatch(applied.stderr, /PodSecurity|[Ww]arning/);

        // A Deployment only warns; a pod is where the namespace's `enforce=restricted` refuses.
        const spec = podSpec(objs);
        const pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `ztka-controller-${randomBytes(3).toString('hex')}`, namespace: ns.name },
          // Admission wants a pod's service account to exist even in a dry run, and the chart's exists
          // only in the dry run above; Pod Security does not look at which account it is.
          spec: { ...spec, serviceAccountName: 'default' },
        };
        const admitted = await kubectl(['create', '--dry-run=server', '-f', '-'], {
          kubeconfig: env.kubeconfig,
          input: JSON.stringify(pod),
        });
        assert.match(admitted.stdout, /created \(server dry run\)/);

        // Each variable is a setting the controller reads, and together they are a configuration it accepts.
        const container = spec.containers[0] as Container;
        const environment: Record<string, string> = {};
        const downward: Record<string, string> = {};
        for (const e of container.env ?? []) {
          const field = e.valueFrom?.fieldRef?.fieldPath;
          if (field !== undefined) {
            // Not a setting: a value later ones take in as $(NAME), as the kubelet expands them.
            assert.ok(DOWNWARD_VALUES[field], `${e.name} from ${field}`);
            downward[e.name] = DOWNWARD_VALUES[field];
            continue;
          }
          assert.ok(knownVariables.has(e.name), `${e.name} is not a controller setting`);
          environment[e.name] = e.valueFrom?.secretKeyRef
            ? (SECRET_VALUES[e.name] ?? 'secret')
            : (e.value ?? '').replace(/\$\((\w+)\)/g, (ref, name: string) => downward[name] ?? ref);
        }
        // Every file a setting names lies on a volume of the pod.
        const mounts = container.volumeMounts ?? [];
        for (const [name, value] of Object.entries(environment)) {
          if (!/_FILE$|_DIR$|^ZTKA_CONFIG$/.test(name)) continue;
          assert.ok(
            mounts.some((m) => value === m.mountPath || value.startsWith(`${m.mountPath}/`)),
            `${name}=${value} is on no volume`,
          );
        }
        if (environment['ZTKA_CONFIG']) {
          const file = path.join(tmp, `config-${randomBytes(3).toString('hex')}.yaml`);
          await fs.writeFile(file, only(objs, 'ConfigMap').data?.['config.yaml'] ?? '');
          environment['ZTKA_CONFIG'] = file;
        }
        const config = loadConfig([], environment);
        assert.equal(config.dataDir, '/var/lib/ztka');
        assert.equal(config.listen, '0.0.0.0:8443');
        assert.match(config.publicUrl, /^https:\/\//);
        assert.equal(config.agentImage, `ztka-agent:${PRODUCT_VERSION}`);
        if (config.peerListen)
          assert.equal(config.peerUrl, `https://${DOWNWARD_VALUES['status.podIP']}:9443`);
      });
    }

    test('the settings land where the values say', async () => {
      const rendered = async (values: object) => {
        const objs = objects(await render(CONTROLLER_CHART, RELEASE, 'ztka', values));
        const vars = (podSpec(objs).containers[0] as Container).env ?? [];
        return { objs, vars: Object.fromEntries(vars.map((e) => [e.name, e])) };
      };
      const defaults = await rendered({});
      assert.equal(defaults.vars['ZTKA_PUBLIC_URL']?.value, 'https://ztka-controller.ztka.svc');
      assert.equal(defaults.vars['ZTKA_TLS_CERT_FILE'], undefined);
      assert.equal(defaults.vars['ZTKA_DATABASE'], undefined);
      assert.equal(defaults.vars['ZTKA_METRICS_TOKEN_FILE'], undefined);
      assert.deepEqual(
        podSpec(defaults.objs).volumes?.find((v) => v.name === 'data')?.persistentVolumeClaim,
        { claimName: 'ztka-controller-data' },
      );
      const pvc = only(defaults.objs, 'PersistentVolumeClaim');
      assert.equal(
        (pvc.metadata as { annotations?: Record<string, string> }).annotations?.['helm.sh/resource-policy'],
        'keep',
      );

      const pg = await rendered({
        database: { type: 'postgres', postgres: { existingSecret: 'db', key: 'dsn' } },
      });
      assert.deepEqual(pg.vars['ZTKA_DATABASE']?.valueFrom, { secretKeyRef: { name: 'db', key: 'dsn' } });

      const secretTls = await rendered({
        publicUrl: 'https://ztka.example.com',
        tls: { source: 'secret', secretName: 'mine', caKey: '' },
        image: { repository: 'registry.example.com/ztka/ztka-controller', tag: '1.2.3' },
      });
      assert.equal(secretTls.vars['ZTKA_TLS_CERT_FILE']?.value, '/etc/ztka/tls/tls.crt');
      assert.equal(secretTls.vars['ZTKA_TLS_CA_FILE'], undefined);
      assert.equal(secretTls.vars['ZTKA_AGENT_IMAGE']?.value, 'registry.example.com/ztka/ztka-agent:1.2.3');
      assert.equal(
        podSpec(secretTls.objs).volumes?.find((v) => v.name === 'tls')?.secret?.secretName,
        'mine',
      );

      const ingress = await rendered({
        ingress: { enabled: true, host: 'ztka.example.org' },
        tls: { source: 'certManager', certManager: { issuerRef: { name: 'le' } } },
      });
      assert.equal(ingress.vars['ZTKA_PUBLIC_URL']?.value, 'https://ztka.example.org');
      const cert = only(ingress.objs, 'Certificate').spec as { dnsNames: string[]; secretName: string };
      assert.deepEqual(cert.dnsNames, ['ztka.example.org']);
      const ing = only(ingress.objs, 'Ingress').spec as { tls: { secretName: string }[] };
      assert.equal(ing.tls[0]?.secretName, cert.secretName);
      assert.equal(defaults.vars['ZTKA_PEER_LISTEN'], undefined);
      assert.equal(only(defaults.objs, 'Deployment').spec?.replicas, 1);
      assert.equal(defaults.objs.filter((o) => o.kind === 'PodDisruptionBudget').length, 0);

      // Replicas: each reachable by the others at its own pod's address on the peer port, and only by them.
      const ha = await rendered(HA_VALUES);
      const deployment = only(ha.objs, 'Deployment');
      assert.equal(deployment.spec?.replicas, 3);
      assert.deepEqual(deployment.spec?.['strategy'], {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      });
      assert.ok(podSpec(ha.objs).affinity?.podAntiAffinity);
      assert.deepEqual(ha.vars['POD_IP']?.valueFrom, { fieldRef: { fieldPath: 'status.podIP' } });
      assert.equal(ha.vars['ZTKA_PEER_LISTEN']?.value, '0.0.0.0:9443');
      assert.equal(ha.vars['ZTKA_PEER_URL']?.value, 'https://$(POD_IP):9443');
      assert.equal(ha.vars['ZTKA_PROXY_PROTOCOL_FROM']?.value, '10.0.0.5,10.0.1.0/24');
      assert.equal(ha.vars['ZTKA_SHUTDOWN_DELAY_SECONDS']?.value, '10');
      assert.equal(ha.vars['ZTKA_SECRETS_KEY_FILE']?.value, '/etc/ztka/secrets-key/secrets.key');
      assert.deepEqual(
        podSpec(ha.objs).containers[0]?.ports?.find((p) => p.name === 'peer'),
        { name: 'peer', containerPort: 9443, protocol: 'TCP' },
      );
      assert.deepEqual(podSpec(ha.objs).volumes?.find((v) => v.name === 'data')?.emptyDir, {});
      assert.equal(ha.objs.filter((o) => o.kind === 'PersistentVolumeClaim').length, 0);
      const ownPods = [{ podSelector: { matchLabels: only(ha.objs, 'Service').spec?.['selector'] } }];
      const policy = only(ha.objs, 'NetworkPolicy').spec as {
        ingress: { ports: { port: string }[]; from?: unknown }[];
        egress: { ports: { port: string | number }[]; to?: unknown }[];
      };
      const toPeerPort = (r: { ports: { port: string | number }[] }) =>
        r.ports.some((p) => p.port === 'peer');
      assert.deepEqual(
        policy.ingress.filter(toPeerPort).map((r) => r.from),
        [ownPods],
      );
      assert.deepEqual(
        policy.egress.filter(toPeerPort).map((r) => r.to),
        [ownPods],
      );
      assert.deepEqual(only(ha.objs, 'PodDisruptionBudget').spec?.['maxUnavailable'], 1);
      assert.equal(only(ha.objs, 'Service').spec?.['externalTrafficPolicy'], 'Local');
    });

    test('combinations that cannot work are refused at render time, and unknown settings at start', async () => {
      const refused = async (values: object, message: RegExp) =>
        assert.rejects(render(CONTROLLER_CHART, RELEASE, 'ztka', values), (err: HelmError) =>
          message.test(err.stderr),
        );
      await refused({ tls: { source: 'secret' } }, /tls.source=secret needs tls.secretName/);
      await refused({ tls: { source: 'acme' } }, /tls.source must be generated, secret or certManager/);
      await refused(
        { ingress: { enabled: true } },
        /ingress.tls terminates TLS with the controller's certificate/,
      );
      await refused({ database: { type: 'postgres' } }, /needs database.postgres.existingSecret/);
      await refused({ metrics: { enabled: true } }, /needs metrics.tokenSecret.name/);
      await refused(
        { config: { publicUrl: 'https://x' } },
        /config.publicUrl is set by this chart's own values/,
      );
      await refused({ publicUrl: 'http://ztka.example.com' }, /publicUrl must start with https/);
      await refused(
        { shutdownGraceSeconds: 30, terminationGracePeriodSeconds: 30 },
        /terminationGracePeriodSeconds must be longer than shutdownDelaySeconds plus shutdownGraceSeconds/,
      );
      await refused(
        { shutdownDelaySeconds: 20 },
        /terminationGracePeriodSeconds must be longer than shutdownDelaySeconds plus shutdownGraceSeconds/,
      );
      // Several replicas, each without one of the things they must share.
      const replicasWithout: [object, RegExp][] = [
        [{ database: { type: 'sqlite' } }, /replicaCount above 1 needs database.type=postgres/],
        [{ tls: { source: 'generated' } }, /replicaCount above 1 needs tls.source secret or certManager/],
        [{ secretsKeySecret: { name: '' } }, /replicaCount above 1 needs secretsKeySecret.name/],
        [{ audit: { keySecret: { name: '' } } }, /replicaCount above 1 needs audit.keySecret.name/],
        [{ persistence: { enabled: true } }, /replicaCount above 1 needs persistence.enabled=false/],
      ];
      for (const [change, message] of replicasWithout) await refused({ ...HA_VALUES, ...change }, message);

      // A misspelt setting in `config` renders, and the controller refuses to start with it.
      const objs = objects(
        await render(CONTROLLER_CHART, RELEASE, 'ztka', { config: { rateLimitPerPersn: 5 } }),
      );
      const file = path.join(tmp, 'misspelt.yaml');
      await fs.writeFile(file, only(objs, 'ConfigMap').data?.['config.yaml'] ?? '');
      assert.throws(() => loadConfig([], { ZTKA_CONFIG: file }), ConfigError);
    });
  });

  describe('ztka-agent', () => {
    test('renders what the bootstrap manifest holds: objects, RBAC, Secret keys, args, env, security contexts', async () => {
      const manifest = objects(
        bootstrapManifest({
          cluster: AGENT_VALUES.cluster,
          controllerUrl: AGENT_VALUES.controllerUrl,
          caCertPem: AGENT_VALUES.caCert,
          bootstrapToken: AGENT_VALUES.bootstrapToken,
          image: 'ztka-agent:0.1.0',
        }),
      ).filter((o) => o.kind !== 'Namespace');
      const chart = objects(await render(AGENT_CHART, 'ztka-agent', 'ztka-system', AGENT_VALUES));
      const names = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      assert.deepEqual(names(chart), names(manifest));
      for (const m of manifest) {
        const c = only(chart, m.kind, m.metadata.name);
        assert.equal(c.metadata.namespace, m.metadata.namespace, `${m.kind} ${m.metadata.name}: namespace`);
        assert.deepEqual(c.rules, m.rules, `${m.kind} ${m.metadata.name}: rules`);
        assert.deepEqual(c.roleRef, m.roleRef, `${m.kind} ${m.metadata.name}: roleRef`);
        assert.deepEqual(c.subjects, m.subjects, `${m.kind} ${m.metadata.name}: subjects`);
        assert.deepEqual(c.stringData, m.stringData, `${m.kind} ${m.metadata.name}: stringData`);
      }
      const [c, m] = [only(chart, 'Deployment'), only(manifest, 'Deployment')];
      assert.equal(c.spec?.replicas, m.spec?.replicas);
      assert.deepEqual(c.spec?.strategy, m.spec?.strategy, 'Deployment strategy');
      assert.deepEqual(c.spec?.selector, m.spec?.selector, 'Deployment selector');
      const [cPod, mPod] = [podSpec([c]), podSpec([m])];
      assert.equal(cPod.serviceAccountName, mPod.serviceAccountName);
      assert.deepEqual(cPod.securityContext, mPod.securityContext);
      assert.deepEqual(cPod.volumes, mPod.volumes);
      const [cc, mc] = [cPod.containers[0] as Container, mPod.containers[0] as Container];
      assert.equal(cPod.containers.length, mPod.containers.length);
      assert.equal(cc.image, mc.image);
      assert.deepEqual(cc.args, mc.args);
      assert.deepEqual(cc.env, mc.env);
      assert.deepEqual(cc.volumeMounts, mc.volumeMounts);
      assert.deepEqual(cc.securityContext, mc.securityContext);
      assert.deepEqual(cc.resources, mc.resources);
    });

    test('outside ztka-system its objects are its namespace’s, and its cluster-wide ones named after it', async () => {
      const chart = objects(
        await render(AGENT_CHART, 'agent', 'edge', { ...AGENT_VALUES, existingSecret: 'agent-config' }),
      );
      assert.equal(chart.filter((o) => o.kind === 'Secret').length, 0);
      assert.equal(only(chart, 'ClusterRole', 'ztka-agent-edge').kind, 'ClusterRole');
      const binding = only(chart, 'ClusterRoleBinding', 'ztka-agent-edge');
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'ztka-agent', namespace: 'edge' }]);
      const role = only(chart, 'Role', 'ztka-agent') as {
        rules: { resources: string[]; resourceNames?: string[] }[];
      };
      assert.deepEqual(role.rules.find((r) => r.resources.includes('secrets'))?.resourceNames, [
        'agent-config',
      ]);
      const container = podSpec(chart).containers[0] as Container;
      assert.deepEqual(container.args, [
        '--credential-secret',
        'edge/agent-config',
        '--jit-namespace',
        'edge',
      ]);
      assert.equal(
        container.env?.find((e) => e.name === 'ZTKA_CONTROLLER_URL')?.valueFrom?.secretKeyRef?.name,
        'agent-config',
      );
    });

    describe('installed for real', () => {
      const CLUSTER = 'helm-agent';
      const PROJECT = 'helm';
      let z: Ztka;
      let agentNs: TestNamespace;
      let work: TestNamespace;
      let saKubeconfig: string;
      let installed = false;

      before(async () => {
        z = await Ztka.start();
        assert.equal((await z.api('POST', '/v1/projects', { name: PROJECT })).status, 201);
        const created = await z.api<{ bootstrapToken: { token: string } }>('POST', '/v1/clusters', {
          name: CLUSTER,
          project: PROJECT,
        });
        assert.equal(created.status, 201);
        agentNs = await namespace(env, 'ztka-helm');
        work = await namespace(env, 'helm-work');
        // Stop() removes the bindings the agent makes for people, by their JIT namespace label.
        z.jitNamespaces.set(CLUSTER, { namespace: agentNs.name, kubeconfig: env.kubeconfig });
        await env.admin([
          'label',
          'namespace',
          agentNs.name,
          'pod-security.kubernetes.io/enforce=restricted',
        ]);
        // ztka-read-only is shared by every agent of the test cluster, which create it on first need and
        // leave it (registration.test.ts explains why). Create it as an agent would, with the chart's rules,
        // unless it exists, and install the chart without it.
        const readOnly = only(
          objects(await render(AGENT_CHART, 'ztka-agent', agentNs.name, AGENT_VALUES)),
          'ClusterRole',
          'ztka-read-only',
        );
        readOnly.metadata.labels = { 'app.kubernetes.io/part-of': 'ztka' };
        await kubectl(['create', '-f', '-'], {
          kubeconfig: env.kubeconfig,
          input: stringify(readOnly),
        }).catch((err: unknown) => {
          if (!(err instanceof KubectlError && /AlreadyExists/.test(err.stderr))) throw err;
        });
        await helm(
          [
            'install',
            'ztka-agent',
            AGENT_CHART,
            '-n',
            agentNs.name,
            '-f',
            await valuesFile({
              controllerUrl: z.url,
              caCert: z.ca,
              bootstrapToken: created.body.bootstrapToken.token,
              cluster: CLUSTER,
              readOnlyClusterRole: { create: false },
            }),
          ],
          { kubeconfig: env.kubeconfig },
        );
        installed = true;
        saKubeconfig = await serviceAccountKubeconfig(
          env,
          agentNs.name,
          'ztka-agent',
          path.join(tmp, 'agent-sa.kubeconfig'),
        );
      });

      after(async () => {
        await z?.stopAgent(CLUSTER);
        if (installed)
          await helm(['uninstall', 'ztka-agent', '-n', agentNs.name, '--wait', '--timeout=60s'], {
            kubeconfig: env.kubeconfig,
          }).catch((err: unknown) => console.error(err));
        await z?.stop(); // also deletes the agent's namespace and the bindings it made
        await work?.cleanup();
      });

      test('restricted Pod Security admits the Deployment’s pod', async () => {
        await env.admin([
          'wait',
          '--for=condition=Available',
          '--timeout=60s',
          'deployment/ztka-agent',
          '-n',
          agentNs.name,
        ]);
      });

      test('an agent with the chart’s args and env, as the chart’s ServiceAccount, registers and serves kubectl', async () => {
        const deployment = JSON.parse(
          await env.admin(['get', 'deployment', 'ztka-agent', '-n', agentNs.name, '-o', 'json']),
        ) as Obj;
        const pod = podSpec([deployment]);
        const container = pod.containers[0] as Container;
        // The pod's volumes, as the kubelet would mount them, under a local directory.
        const root = path.join(tmp, 'pod');
        const local = (p: string) => path.join(root, p);
        const secretData = async (name: string) =>
          (
            JSON.parse(await env.admin(['get', 'secret', name, '-n', agentNs.name, '-o', 'json'])) as {
              data: Record<string, string>;
            }
          ).data;
        for (const mount of container.volumeMounts ?? []) {
          const volume = pod.volumes?.find((v) => v.name === mount.name);
          assert.ok(volume?.secret, `volume ${mount.name} is a Secret`);
          const data = await secretData(volume.secret.secretName);
          await fs.mkdir(local(mount.mountPath), { recursive: true });
          for (const item of volume.secret.items ?? [])
            await fs.writeFile(
              path.join(local(mount.mountPath), item.path),
              Buffer.from(data[item.key] ?? '', 'base64'),
            );
        }
        const agentEnv: Record<string, string> = {};
        for (const e of container.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          agentEnv[e.name] = ref
            ? Buffer.from((await secretData(ref.name))[ref.key] ?? '', 'base64').toString()
            : (e.value ?? '');
          if (agentEnv[e.name]?.startsWith('/')) agentEnv[e.name] = local(agentEnv[e.name] as string);
        }
        assert.equal(agentEnv['ZTKA_CONTROLLER_URL'], z.url);
        // In a cluster the agent finds the service account's token where Kubernetes mounts it; here a
        // kubeconfig holds a token of that same account.
        z.runAgent(
          CLUSTER,
          [...(container.args ?? []), '--kubeconfig', saKubeconfig, '--log-level', 'warn'],
          agentEnv,
        );
        await z.waitForConnected(CLUSTER, true, 30_000);
        const stored = await secretData('ztka-agent');
        assert.match(Buffer.from(stored['credential'] ?? '', 'base64').toString(), /^ztka_/);

        // The admin (cluster-admin), a project viewer (ztka-read-only) and a namespace admin (admin in one
        // namespace): each first request makes that person's service account and bindings with the chart's RBAC.
        const admin = await z.kubeconfig(CLUSTER);
        const run = (kubeconfig: string, args: string[]) => kubectl(args, { kubeconfig });
        assert.match((await run(admin, ['get', 'namespaces'])).stdout, /kube-system/);
        await run(admin, ['-n', work.name, 'create', 'configmap', 'through-ztka', '--from-literal=a=b']);
        const viewer = await z.createUser('helm-viewer', [{ role: 'PROJECT_READ_ONLY', project: PROJECT }]);
        const viewerKc = await z.kubeconfig(CLUSTER, viewer.apiKey);
        assert.match((await run(viewerKc, ['-n', work.name, 'get', 'configmaps'])).stdout, /through-ztka/);
        const nsAdmin = await z.createUser('helm-ns-admin', [
          { role: 'NAMESPACE_ADMIN', project: PROJECT, namespaces: [work.name] },
        ]);
        const nsAdminKc = await z.kubeconfig(CLUSTER, nsAdmin.apiKey);
        await run(nsAdminKc, ['-n', work.name, 'delete', 'configmap', 'through-ztka']);
        await assert.rejects(run(nsAdminKc, ['-n', 'default', 'get', 'configmaps']), KubectlError);
        const bindings = await env.admin([
          'get',
          'clusterrolebindings,rolebindings',
          '-A',
          '-l',
          `ztka.dev/jit-namespace=${agentNs.name}`,
          '-o',
          'jsonpath={range .items[*]}{.roleRef.name}{"\\n"}{end}',
        ]);
        assert.deepEqual(bindings.trim().split('\n').sort(), ['admin', 'cluster-admin', 'ztka-read-only']);
      });

      test('kubectl auth can-i refuses the chart’s ServiceAccount everything else', async () => {
        const sa = `system:serviceaccount:${agentNs.name}:ztka-agent`;
        const n = agentNs.name;
        const answer = async (args: string[], kubeconfig: string, as?: string) =>
          (
            await kubectl(['auth', 'can-i', ...(as ? [`--as=${as}`] : []), ...args], { kubeconfig }).catch(
              (err: unknown) => {
                if (err instanceof KubectlError && err.exitCode === 1) return { stdout: err.stdout };
                throw err;
              },
            )
          ).stdout.trim();
        const allowed = [
          ['create', 'serviceaccounts', '-n', n],
          ['delete', 'serviceaccounts', '-n', n],
          ['create', 'serviceaccounts', '--subresource=token', '-n', n],
          ['patch', 'secrets/ztka-agent', '-n', n],
          ['create', 'clusterrolebindings'],
          ['create', 'rolebindings', '-n', work.name],
          ['bind', 'clusterroles/cluster-admin'],
          ['bind', 'clusterroles/ztka-read-only'],
          ['get', 'namespaces/kube-system'],
          // Pod Security labels on the namespaces a NAMESPACE_ADMIN is granted.
          ['patch', `namespaces/${work.name}`],
        ];
        const refused = [
          ['get', 'secrets', '-n', 'kube-system'],
          ['list', 'secrets', '-n', n],
          ['get', 'secrets/other', '-n', n],
          ['create', 'secrets', '-n', n],
          ['create', 'pods', '-n', n],
          ['create', 'pods', '-n', 'default'],
          ['create', 'pods', '--subresource=exec', '-n', 'default'],
          ['list', 'pods', '-A'],
          ['create', 'serviceaccounts', '-n', 'default'],
          ['create', 'serviceaccounts', '--subresource=token', '-n', 'kube-system'],
          ['create', 'deployments', '-n', n],
          ['escalate', 'clusterroles'],
          ['create', 'clusterroles'],
          ['bind', 'clusterroles/edit'],
          ['bind', 'clusterroles/system:kube-scheduler'],
          ['create', 'namespaces'],
          ['delete', `namespaces/${work.name}`],
          ['list', 'nodes'],
          ['impersonate', 'users'],
          ['create', 'certificatesigningrequests'],
        ];
        for (const args of [...allowed, ...refused]) {
          const expected = allowed.includes(args) ? 'yes' : 'no';
          // As an admin asks on the account's behalf, and as the account itself with its own token.
          const [as, own] = await Promise.all([answer(args, env.kubeconfig, sa), answer(args, saKubeconfig)]);
          assert.equal(as, expected, `can-i --as ${args.join(' ')}`);
          assert.equal(own, expected, `can-i (own token) ${args.join(' ')}`);
        }
        // A binding to a role outside the bindable ones is refused for real, not only in can-i.
        await assert.rejects(
          kubectl(
            [
              '-n',
              work.name,
              'create',
              'rolebinding',
              'escalate',
              '--clusterrole=edit',
              `--serviceaccount=${n}:ztka-agent`,
            ],
            { kubeconfig: saKubeconfig },
          ),
          (err: KubectlError) => /forbidden/i.test(err.stderr),
        );
      });

      test('helm uninstall removes what the chart made, cluster-wide objects included', async () => {
        await helm(['uninstall', 'ztka-agent', '-n', agentNs.name, '--wait', '--timeout=60s'], {
          kubeconfig: env.kubeconfig,
        });
        installed = false;
        const left = await env.admin([
          'get',
          `clusterrole/ztka-agent-${agentNs.name}`,
          `clusterrolebinding/ztka-agent-${agentNs.name}`,
          '--ignore-not-found',
          '-o',
          'name',
        ]);
        assert.equal(left.trim(), '');
        const inNs = await env.admin([
          'get',
          'deployment,serviceaccount,role,rolebinding,secret',
          '-n',
          agentNs.name,
          '-l',
          'app.kubernetes.io/instance=ztka-agent',
          '-o',
          'name',
        ]);
        assert.equal(inNs.trim(), '');
      });
    });
  });
});
