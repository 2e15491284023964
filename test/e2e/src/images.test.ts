// The images `npm run images` builds, run the way Kubernetes runs them. A cluster is registered on a real
// controller and its bootstrap manifest applied to the test cluster; kwok then reports the Deployment's pod
// running, and the agent image runs as that pod's container would: the manifest's args and env (values read
// from the applied Secret), its volumes, a real service-account token for the pod from the apiserver's
// TokenRequest API mounted where the kubelet mounts it, KUBERNETES_SERVICE_HOST/PORT, the pod's user, a
// read-only root and no capabilities (support/containers.ts). The agent must register with the bootstrap
// token, keep what registration gave it in its Secret, come back after a restart, and carry kubectl. Then
// the controller image, started the same way, serves the console and the kube proxy to a second agent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import {
  controllerRequest,
  downloadKubeconfig,
  freePort,
  kubectl,
  lockBootstrapManifest,
  loginApiKey,
  repoRootPath,
  testEnv,
  Ztka,
  type TestEnv,
} from '@ztka/testenv';
import { removeImages, startContainer, type Container, type Mount } from './support/containers.js';
import { run } from './support/netns.js';

const archive = (name: string) => path.join(repoRootPath, 'dist', 'images', `${name}.oci.tar`);
const AGENT = archive('ztka-agent');
const CONTROLLER = archive('ztka-controller');
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Controller {
  url: string;
  ca: string;
  token: string;
}

type Doc = {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: PodTemplateOwner;
};
interface PodTemplateOwner {
  selector: { matchLabels: Record<string, string> };
  template: { spec: PodSpec };
}
interface PodSpec {
  serviceAccountName: string;
  securityContext?: { runAsUser?: number };
  containers: {
    args?: string[];
    env?: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
    volumeMounts?: { name: string; mountPath: string }[];
  }[];
  volumes?: {
    name: string;
    secret?: { secretName: string; items?: { key: string; path: string }[] };
    emptyDir?: object;
  }[];
}

let env: TestEnv;
let unlock: (() => Promise<void>) | undefined;
const work: string[] = [];
const containers: Container[] = [];
const manifests: string[] = [];

const api = <T>(ctl: Controller, method: string, uri: string, body?: unknown) =>
  controllerRequest<T>(ctl, method, uri, body);

async function tmpDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  work.push(dir);
  return dir;
}

async function secretData(ns: string, name: string): Promise<Record<string, string>> {
  const secret = JSON.parse(await env.admin(['get', 'secret', name, '-n', ns, '-o', 'json'])) as {
    data?: Record<string, string>;
  };
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );
}

async function waitConnected(ctl: Controller, cluster: string, connected: boolean, what: () => string) {
  for (let i = 0; ; i++) {
    const res = await api<{ connected?: boolean }>(ctl, 'GET', `/v1/clusters/${cluster}`).catch(
      () => undefined,
    );
    if (res?.status === 200 && res.body.connected === connected) return;
    if (i > 600) assert.fail(`cluster ${cluster} not ${connected ? 'connected' : 'gone'}:\n${what()}`);
    await sleep(100);
  }
}

/** Removes what a manifest created, except the ztka-read-only ClusterRole other tests' agents bind to. */
async function removeManifest(manifest: string) {
  const docs = parseAllDocuments(manifest)
    .map((d) => d.toJS() as Doc)
    .filter((d) => d.metadata.name !== 'ztka-read-only');
  await env
    .admin(
      ['delete', '--ignore-not-found', '--wait=false', '-f', '-'],
      docs.map((d) => JSON.stringify(d)).join('\n'),
    )
    .catch(() => {});
  await env
    .admin(['delete', 'clusterrolebinding', '-l', 'ztka.dev/jit-namespace=ztka-system', '--ignore-not-found'])
    .catch(() => {});
  await env.admin(['wait', '--for=delete', 'namespace/ztka-system', '--timeout=120s']).catch(() => {});
}

/**
 * Registers `cluster` on the controller, applies its bootstrap manifest, and runs the agent image as the
 * Deployment's pod: returns the container and how to start it again (a pod restart).
 */
async function deployAgent(ctl: Controller, cluster: string) {
  assert.equal((await api(ctl, 'POST', '/v1/projects', { name: 'images' })).status, 201);
  assert.equal((await api(ctl, 'POST', '/v1/clusters', { name: cluster, project: 'images' })).status, 201);
  const res = await api<string>(ctl, 'GET', `/v1/clusters/${cluster}/bootstrap.yaml`);
  assert.equal(res.status, 200);
  const manifest = res.body;
  manifests.push(manifest);
  await env.admin(['apply', '-f', '-'], manifest);

  const deployment = parseAllDocuments(manifest)
    .map((d) => d.toJS() as Doc)
    .find((d) => d.kind === 'Deployment');
  assert.ok(deployment?.spec && deployment.metadata.namespace);
  const ns = deployment.metadata.namespace;
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  assert.ok(container);

  // The pod kwok runs on a fake node; the container below is its process, and its token is bound to it.
  const selector = Object.entries(deployment.spec.selector.matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  await env.admin(['wait', '--for=create', 'pod', '-l', selector, '-n', ns, '--timeout=60s']);
  await env.admin(['wait', '--for=condition=Ready', 'pod', '-l', selector, '-n', ns, '--timeout=60s']);
  const [podName, podUid] = (
    await env.admin([
      'get',
      'pod',
      '-l',
      selector,
      '-n',
      ns,
      '-o',
      'jsonpath={.items[0].metadata.name} {.items[0].metadata.uid}',
    ])
  ).split(' ');
  assert.ok(podName && podUid);

  const sa = await tmpDir('ztka-sa-');
  const token = await env.admin([
    'create',
    'token',
    pod.serviceAccountName,
    '-n',
    ns,
    '--bound-object-kind=Pod',
    `--bound-object-name=${podName}`,
    `--bound-object-uid=${podUid}`,
    '--duration=1h',
  ]);
  const rootCa = await env.admin([
    'get',
    'configmap',
    'kube-root-ca.crt',
    '-n',
    ns,
    '-o',
    'jsonpath={.data.ca\\.crt}',
  ]);
  await fs.writeFile(path.join(sa, 'token'), token.trim(), { mode: 0o644 });
  await fs.writeFile(path.join(sa, 'ca.crt'), rootCa, { mode: 0o644 });
  await fs.writeFile(path.join(sa, 'namespace'), ns, { mode: 0o644 });
  await fs.chmod(sa, 0o755);

  const mounts: Mount[] = [{ source: sa, target: SA_DIR }];
  for (const vm of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === vm.name);
    const dir = await tmpDir('ztka-volume-');
    if (volume?.emptyDir) {
      await fs.chown(dir, pod.securityContext?.runAsUser ?? 65532, pod.securityContext?.runAsUser ?? 65532);
      mounts.push({ source: dir, target: vm.mountPath, readOnly: false });
      continue;
    }
    assert.ok(volume?.secret, `volume ${vm.name} is a secret or emptyDir volume`);
    const data = await secretData(ns, volume.secret.secretName);
    const items = volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of items)
      await fs.writeFile(path.join(dir, item.path), data[item.key] ?? '', { mode: 0o644 });
    await fs.chmod(dir, 0o755);
    mounts.push({ source: dir, target: vm.mountPath });
  }
  const apiserver = new URL(env.apiserverUrl);
  const containerEnv: Record<string, string> = {
    KUBERNETES_SERVICE_HOST: apiserver.hostname,
    KUBERNETES_SERVICE_PORT: apiserver.port,
  };
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    const value = ref ? (await secretData(ns, ref.name))[ref.key] : e.value;
    assert.ok(value !== undefined, `env ${e.name}`);
    containerEnv[e.name] = value;
  }
  const secretName = container.env?.find((e) => e.valueFrom)?.valueFrom?.secretKeyRef.name;
  assert.ok(secretName);
  const start = () =>
    startContainer({
      archive: AGENT,
      args: container.args ?? [],
      env: containerEnv,
      mounts,
      ...(pod.securityContext?.runAsUser === undefined ? {} : { user: pod.securityContext.runAsUser }),
    }).then((c) => (containers.push(c), c));
  return { start, ns, secretName, manifest };
}

async function kubectlThrough(ctl: Controller, cluster: string, args: string[]): Promise<string> {
  const file = path.join(await tmpDir('ztka-kubeconfig-'), 'config');
  await fs.writeFile(file, await downloadKubeconfig(ctl, { cluster }), { mode: 0o600 });
  return (await kubectl(args, { kubeconfig: file })).stdout;
}

function get(url: string, ca: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
        );
      })
      .on('error', reject);
  });
}

before(
  async () => {
    // Builds the archives when they are missing or stale (minutes the first time, a second when current).
    await run([process.execPath, path.join(repoRootPath, 'scripts', 'images.mjs')], {
      timeoutMs: 40 * 60_000,
    });
    env = await testEnv();
    unlock = await lockBootstrapManifest();
    // registration.test.ts leaves the namespace terminating.
    await env.admin(['wait', '--for=delete', 'namespace/ztka-system', '--timeout=120s']);
  },
  { timeout: 45 * 60_000 },
);

after(async () => {
  await Promise.all(containers.map((c) => c.stop()));
  await removeImages();
  for (const m of manifests) await removeManifest(m);
  await unlock?.();
  await Promise.all(work.map((d) => fs.rm(d, { recursive: true, force: true })));
});

test('the archives carry their version, source commit and a non-root user', async () => {
  const version = (
    JSON.parse(await fs.readFile(path.join(repoRootPath, 'packages/protocol/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const head = (await run(['git', '-C', repoRootPath, 'rev-parse', 'HEAD'])).stdout.trim();
  for (const [file, main] of [
    [AGENT, '/app/packages/agent/dist/main.js'],
    [CONTROLLER, '/app/packages/controller/dist/main.js'],
  ] as const) {
    const { stdout } = await run(['skopeo', 'inspect', '--config', `oci-archive:${file}`]);
    const config = (
      JSON.parse(stdout) as { config: { User: string; Entrypoint: string[]; Labels: Record<string, string> } }
    ).config;
    assert.equal(config.User, '65532:65532');
    assert.deepEqual(config.Entrypoint, ['/usr/local/bin/node', main]);
    assert.equal(config.Labels['org.opencontainers.image.version'], version);
    assert.match(config.Labels['org.opencontainers.image.revision'] ?? '', new RegExp(`^${head}(-dirty)?$`));
    assert.ok(Date.parse(config.Labels['org.opencontainers.image.created'] ?? ''));
  }
});

describe('the agent image, deployed by the bootstrap manifest', () => {
  let z: Ztka;
  before(async () => {
    z = await Ztka.start();
  });
  after(async () => {
    await z?.stop();
  });

  test('registers, keeps its credential in its Secret, survives a restart, and carries kubectl', async () => {
    const ctl = { url: z.url, ca: z.ca, token: z.adminKey };
    const agent = await deployAgent(ctl, 'imaged');
    const before = await secretData(agent.ns, agent.secretName);
    const first = await agent.start();
    await waitConnected(ctl, 'imaged', true, first.output);
    // Registration gave it something it keeps in its Secret (its credential), beside what the manifest put there.
    const stored = await secretData(agent.ns, agent.secretName);
    assert.ok(
      Object.keys(stored).some((k) => !(k in before)),
      `the Secret holds only ${Object.keys(stored).join(', ')}`,
    );
    const whoami = await kubectlThrough(ctl, 'imaged', [
      'auth',
      'whoami',
      '-o',
      'jsonpath={.status.userInfo.username}',
    ]);
    assert.equal(whoami, 'system:serviceaccount:ztka-system:admin');
    assert.match(await kubectlThrough(ctl, 'imaged', ['get', 'ns', '-o', 'name']), /namespace\/kube-system/);

    // A restarted pod has the same env (its bootstrap token is spent): what the Secret holds must do.
    await first.stop();
    await waitConnected(ctl, 'imaged', false, first.output);
    const second = await agent.start();
    await waitConnected(ctl, 'imaged', true, second.output);
    assert.match(await kubectlThrough(ctl, 'imaged', ['get', 'ns', '-o', 'name']), /namespace\/default/);
    await second.stop();
    await removeManifest(agent.manifest);
  });
});

test('the controller image serves the console and the kube proxy', async () => {
  const data = await tmpDir('ztka-controller-data-');
  await fs.chown(data, 65532, 65532);
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const password = randomBytes(18).toString('base64url');
  const controller = await startContainer({
    archive: CONTROLLER,
    env: {
      ZTKA_LISTEN: `127.0.0.1:${port}`,
      ZTKA_PUBLIC_URL: url,
      ZTKA_ADMIN_PASSWORD: password,
      ZTKA_LOG_LEVEL: 'warn',
    },
    mounts: [{ source: data, target: '/var/lib/ztka', readOnly: false }],
  });
  containers.push(controller);
  let ca = '';
  for (let i = 0; !ca || !(await get(`${url}/healthz`, ca).catch(() => undefined)); i++) {
    if (i > 300) assert.fail(`the controller image did not start:\n${controller.output()}`);
    await sleep(100);
    ca = await fs.readFile(path.join(data, 'tls', 'ca.crt'), 'utf8').catch(() => '');
  }

  const page = await get(`${url}/`, ca);
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.match(page.body, /<div id="root">/);

  const ctl = { url, ca, token: await loginApiKey({ url, ca }, 'admin', password) };
  const agent = await deployAgent(ctl, 'imaged-controller');
  const container = await agent.start();
  await waitConnected(ctl, 'imaged-controller', true, () => `${container.output()}\n${controller.output()}`);
  assert.match(
    await kubectlThrough(ctl, 'imaged-controller', ['get', 'ns', '-o', 'name']),
    /namespace\/kube-system/,
  );
});
