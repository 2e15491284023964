// Registering a cluster the way an administrator would: the bootstrap manifest is accepted by a real
// apiserver, its RBAC is least privilege, and an agent running as the manifest's own service account
// registers, keeps its credential and key in its Secret, and reconnects with them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { parseAllDocuments } from 'yaml';
import { lockBootstrapManifest, serviceAccountKubeconfig, testEnv, Ztka, type TestEnv } from '@ztka/testenv';

const agentMain = fileURLToPath(import.meta.resolve('@ztka/agent/main'));
const CLUSTER = 'registered';
const AGENT_SA = 'system:serviceaccount:ztka-system:ztka-agent';

describe('cluster registration with the bootstrap manifest', () => {
  let env: TestEnv;
  let z: Ztka;
  let manifest: string;
  let agent: ChildProcess | undefined;
  let unlock: (() => Promise<void>) | undefined;

  const canI = async (...args: string[]) =>
    (
      await env
        .admin(['auth', 'can-i', `--as=${AGENT_SA}`, ...args])
        .catch((err: { stdout?: string }) => err.stdout ?? '')
    ).trim();

  before(async () => {
    env = await testEnv();
    // images.test.ts applies the same manifest: one at a time, each after the other's objects are gone.
    unlock = await lockBootstrapManifest();
    await env.admin(['wait', '--for=delete', 'namespace/ztka-system', '--timeout=120s']);
    z = await Ztka.start();
    assert.equal((await z.api('POST', '/v1/projects', { name: 'desktop' })).status, 201);
    const created = await z.api('POST', '/v1/clusters', { name: CLUSTER, project: 'desktop' });
    assert.equal(created.status, 201);
  });

  after(async () => {
    agent?.kill('SIGKILL');
    await z?.stop();
    // The manifest's cluster-wide objects are shared state: remove them so other tests start clean. The
    // ztka-read-only ClusterRole stays: other tests' agents may be binding people to it right now.
    await env
      .admin([
        'delete',
        '--ignore-not-found',
        '--wait=false',
        'namespace/ztka-system',
        'clusterrole/ztka-agent',
        'clusterrolebinding/ztka-agent',
        'clusterrolebinding/ztka-jit.ztka-system.admin',
      ])
      .catch(() => {});
    await unlock?.();
  });

  test('the manifest needs an admin credential and carries a fresh single-use token', async () => {
    const anonymous = await z.api('GET', `/v1/clusters/${CLUSTER}/bootstrap.yaml`, undefined, null);
    assert.equal(anonymous.status, 401);
    const res = await z.api<string>('GET', `/v1/clusters/${CLUSTER}/bootstrap.yaml`);
    assert.equal(res.status, 200);
    manifest = res.body;
    const kinds = parseAllDocuments(manifest).map((d) => (d.toJS() as { kind: string }).kind);
    assert.deepEqual(kinds, [
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'Role',
      'ClusterRole',
      'RoleBinding',
      'ClusterRoleBinding',
      'Secret',
      'Deployment',
    ]);
    assert.match(manifest, /bootstrap-token: ztkb_/);
  });

  test('kubectl apply --dry-run=server accepts it, and then it applies', async () => {
    // A server-side dry run creates nothing, so the namespaced objects need their namespace to exist.
    await env.admin(['create', 'namespace', 'ztka-system']);
    const dry = await env.admin(['apply', '--dry-run=server', '-f', '-'], manifest);
    assert.match(dry, /deployment\.apps\/ztka-agent created \(server dry run\)/);
    await env.admin(['apply', '-f', '-'], manifest);
  });

  test("the agent's RBAC is least privilege", async () => {
    assert.equal(await canI('create', 'serviceaccounts', '-n', 'ztka-system'), 'yes');
    assert.equal(await canI('create', 'serviceaccounts/token', '-n', 'ztka-system'), 'yes');
    assert.equal(await canI('create', 'serviceaccounts', '-n', 'default'), 'no');
    assert.equal(await canI('get', 'secrets/ztka-agent', '-n', 'ztka-system'), 'yes');
    assert.equal(await canI('get', 'secrets/other', '-n', 'ztka-system'), 'no');
    assert.equal(await canI('list', 'secrets', '-A'), 'no');
    assert.equal(await canI('bind', 'clusterroles/view'), 'yes');
    assert.equal(await canI('bind', 'clusterroles/system:kube-scheduler'), 'no');
    assert.equal(await canI('escalate', 'clusterroles'), 'no');
    assert.equal(await canI('list', 'pods', '-A'), 'no');
    // Namespaces: read, and patched for the Pod Security labels an org may require; never made or deleted.
    assert.equal(await canI('patch', 'namespaces/team-a'), 'yes');
    assert.equal(await canI('create', 'namespaces'), 'no');
    assert.equal(await canI('delete', 'namespaces/team-a'), 'no');
    assert.equal(await canI('update', 'namespaces/team-a', '--subresource=finalize'), 'no');
    assert.equal(await canI('create', 'pods/exec', '-n', 'default'), 'no');
  });

  test('an agent running as that service account registers, keeps its credential and key in its Secret, and reconnects', async () => {
    const kubeconfig = await serviceAccountKubeconfig(
      env,
      'ztka-system',
      'ztka-agent',
      path.join(z.dir, 'agent-sa.kubeconfig'),
    );
    const bootstrapToken = (parseAllDocuments(manifest)
      .map((d) => d.toJS() as { kind: string; stringData?: Record<string, string> })
      .find((d) => d.kind === 'Secret')?.stringData ?? {})['bootstrap-token'];
    assert.ok(bootstrapToken);

    const run = (withToken: boolean) =>
      spawn(
        process.execPath,
        [
          agentMain,
          '--controller-url',
          z.url,
          '--ca-file',
          z.caFile,
          '--kubeconfig',
          kubeconfig,
          '--credential-secret',
          'ztka-system/ztka-agent',
          '--log-level',
          'warn',
          ...(withToken ? ['--bootstrap-token', bootstrapToken] : []),
        ],
        { stdio: 'ignore' },
      );

    agent = run(true);
    await z.waitForConnected(CLUSTER, true, 20_000);
    const stored = await env.admin([
      'get',
      'secret',
      'ztka-agent',
      '-n',
      'ztka-system',
      '-o',
      'jsonpath={.data.credential}',
    ]);
    assert.match(Buffer.from(stored, 'base64').toString(), /^ztka_/);
    // Its key beside it: the credential is worthless without it.
    const key = await env.admin([
      'get',
      'secret',
      'ztka-agent',
      '-n',
      'ztka-system',
      '-o',
      'jsonpath={.data.agent-key}',
    ]);
    assert.match(Buffer.from(key, 'base64').toString(), /^-----BEGIN PRIVATE KEY-----\n/);

    agent.kill('SIGKILL');
    await z.waitForConnected(CLUSTER, false, 10_000);
    agent = run(false); // the bootstrap token is spent; the Secret's credential must be enough
    await z.waitForConnected(CLUSTER, true, 20_000);
  });

  test('an upgrade the cluster refuses reaches the client as that status, not as a broken 101', async () => {
    // The agent runs as its own least-privilege service account and acts for the admin through the admin's
    // just-in-time service account, which its RBAC lets it create and bind. Exec into a pod that does not
    // exist: the apiserver answers the WebSocket upgrade with 404, and that must arrive as such (kubectl
    // >= 1.30 relies on a non-101 answer to fall back to SPDY or to print the error).
    const token = await z.kubeToken(CLUSTER);
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(
        `${z.url.replace('https', 'wss')}/k8s/clusters/${CLUSTER}/api/v1/namespaces/default/pods/nobody/exec?command=ls&stdout=true`,
        ['v5.channel.k8s.io'],
        { ca: z.ca, headers: { authorization: `Bearer ${token}` } },
      );
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      ws.on('open', () => reject(new Error('the upgrade succeeded')));
      ws.on('error', () => {});
    });
    assert.equal(status, 404, body);
    const parsed = JSON.parse(body) as { kind: string; reason: string; message: string };
    assert.equal(parsed.kind, 'Status');
    assert.equal(parsed.reason, 'NotFound');
    assert.match(parsed.message, /pods "nobody" not found/);
    // The admin's service account exists, made with nothing more than the manifest's RBAC.
    const sa = await env.admin([
      'get',
      'serviceaccount',
      'admin',
      '-n',
      'ztka-system',
      '-o',
      'jsonpath={.metadata.annotations}',
    ]);
    assert.match(sa, /"ztka.dev\/role":"ADMIN"/);
    const binding = await env.admin([
      'get',
      'clusterrolebinding',
      'ztka-jit.ztka-system.admin',
      '-o',
      'jsonpath={.roleRef.name}',
    ]);
    assert.equal(binding, 'cluster-admin');
  });
});
