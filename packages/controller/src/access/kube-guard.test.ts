import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZtkaError, parseKubeRequest, protectedNamespaces, type TunnelIdentity } from '@ztka/protocol';
import { guardKubeRequest, guardProtectedNamespaces } from './kube-guard.js';

const allowed = (identity: TunnelIdentity, method: string, path: string, query = '') => {
  try {
    guardKubeRequest(identity, parseKubeRequest(method, path, new URLSearchParams(query)));
    return true;
  } catch (err) {
    assert.ok(err instanceof ZtkaError && err.code === 'forbidden', String(err));
    return false;
  }
};

const admin: TunnelIdentity = { user: 'a', userId: 'id-a', role: 'PROJECT_ADMIN' };
const reader: TunnelIdentity = { user: 'r', userId: 'id-r', role: 'PROJECT_READ_ONLY' };
const nsAdmin: TunnelIdentity = {
  user: 'n',
  userId: 'id-n',
  role: 'NAMESPACE_ADMIN',
  namespaces: ['team-a'],
  readOnlyNamespaces: ['team-b'],
};
const nsReader: TunnelIdentity = {
  user: 'v',
  userId: 'id-v',
  role: 'NAMESPACE_READ_ONLY',
  namespaces: ['team-a'],
};

test('admin roles pass everything on to the cluster', () => {
  for (const [m, p] of [
    ['DELETE', '/api/v1/namespaces/kube-system/pods/x'],
    ['POST', '/api/v1/namespaces/default/pods/x/exec'],
    ['GET', '/api/v1/secrets'],
    ['POST', '/api/v1/namespaces'],
  ] as const)
    assert.ok(allowed(admin, m, p), `${m} ${p}`);
});

test('read-only roles read, but never write, read secrets, exec, attach, port-forward or proxy', () => {
  assert.ok(allowed(reader, 'GET', '/api/v1/namespaces'));
  assert.ok(allowed(reader, 'GET', '/api/v1/pods', 'watch=true'));
  assert.ok(allowed(reader, 'GET', '/api/v1/namespaces/default/pods/x/log'));
  assert.ok(allowed(reader, 'GET', '/apis'));
  assert.ok(allowed(reader, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'));
  assert.ok(allowed(reader, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews'));
  for (const [m, p] of [
    ['DELETE', '/api/v1/namespaces/default/pods/x'],
    ['POST', '/api/v1/namespaces/default/configmaps'],
    ['PATCH', '/apis/apps/v1/namespaces/default/deployments/web'],
    ['GET', '/api/v1/namespaces/default/secrets'],
    ['GET', '/api/v1/secrets', 'watch=1'],
    ['GET', '/api/v1/namespaces/default/pods/x/exec'],
    ['POST', '/api/v1/namespaces/default/pods/x/attach'],
    ['POST', '/api/v1/namespaces/default/pods/x/portforward'],
    ['GET', '/api/v1/namespaces/default/services/x/proxy/metrics'],
    ['GET', '/api/v1/proxy/namespaces/default/pods/x'],
    ['POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews'],
    ['POST', '/logs/x'],
  ] as const)
    assert.ok(!allowed(reader, m, p), `${m} ${p}`);
});

test('namespace roles stay in their namespaces; extra read-only namespaces are read-only', () => {
  assert.ok(allowed(nsAdmin, 'DELETE', '/api/v1/namespaces/team-a/pods/x'));
  assert.ok(allowed(nsAdmin, 'POST', '/api/v1/namespaces/team-a/pods/x/exec'));
  assert.ok(allowed(nsAdmin, 'GET', '/api/v1/namespaces/team-a'));
  assert.ok(allowed(nsAdmin, 'GET', '/api/v1/namespaces/team-b/pods'));
  assert.ok(!allowed(nsAdmin, 'DELETE', '/api/v1/namespaces/team-b/pods/x'));
  assert.ok(!allowed(nsAdmin, 'GET', '/api/v1/namespaces/team-b/secrets'));
  assert.ok(!allowed(nsAdmin, 'GET', '/api/v1/namespaces/kube-system/pods'));
  assert.ok(!allowed(nsAdmin, 'GET', '/api/v1/pods'), 'across all namespaces');
  assert.ok(!allowed(nsAdmin, 'GET', '/api/v1/nodes'), 'cluster-scoped');
  assert.ok(!allowed(nsAdmin, 'GET', '/api/v1/namespaces'), 'the namespace list');
  assert.ok(allowed(nsAdmin, 'GET', '/api/v1'), 'discovery');
  assert.ok(allowed(nsReader, 'GET', '/api/v1/namespaces/team-a/pods'));
  assert.ok(!allowed(nsReader, 'DELETE', '/api/v1/namespaces/team-a/pods/x'));
});

test('namespace roles read their namespace object but never change it: its labels set its Pod Security', () => {
  for (const [method, path] of [
    ['PATCH', '/api/v1/namespaces/team-a'],
    ['PUT', '/api/v1/namespaces/team-a'],
    ['DELETE', '/api/v1/namespaces/team-a'],
    ['PUT', '/api/v1/namespaces/team-a/status'],
    ['PUT', '/api/v1/namespaces/team-a/finalize'],
  ] as const) {
    assert.ok(!allowed(nsAdmin, method, path), `${method} ${path}`);
    assert.ok(allowed(admin, method, path), `${method} ${path} as a project admin`);
  }
  assert.ok(allowed(nsAdmin, 'GET', '/api/v1/namespaces/team-a'));
  assert.ok(allowed(nsAdmin, 'GET', '/api/v1/watch/namespaces/team-a'));
  // A resource of another group that happens to be called namespaces is the cluster's RBAC's to decide.
  assert.ok(allowed(nsAdmin, 'PATCH', '/apis/example.com/v1/namespaces/team-a/namespaces/x'));
  assert.throws(
    () =>
      guardKubeRequest(
        nsAdmin,
        parseKubeRequest('PATCH', '/api/v1/namespaces/team-a', new URLSearchParams()),
      ),
    {
      status: 403,
      message:
        'namespaces "team-a" is forbidden: User "n" cannot patch resource "namespaces" in the namespace "team-a": NAMESPACE_ADMIN cannot change the namespace itself, its labels included',
    },
  );
});

test("the refusal reads like the apiserver's and names the role's limit", () => {
  assert.throws(
    () =>
      guardKubeRequest(
        reader,
        parseKubeRequest('DELETE', '/api/v1/namespaces/default/pods/web-0', new URLSearchParams()),
      ),
    {
      status: 403,
      message:
        'pods "web-0" is forbidden: User "r" cannot delete resource "pods" in the namespace "default": the role is read-only',
    },
  );
});

test('no role reaches the JIT namespace, org admins included; the refusal says why', () => {
  const orgAdmin: TunnelIdentity = { user: 'admin', userId: 'id-admin', role: 'ADMIN' };
  const jitAdmin: TunnelIdentity = { ...nsAdmin, namespaces: ['ztka-jit-1'] };
  const protect = protectedNamespaces('ztka-jit-1');
  const refusal = (identity: TunnelIdentity, method: string, path: string, query = '') => {
    const q = new URLSearchParams(query);
    try {
      const kube = parseKubeRequest(method, path, q);
      guardProtectedNamespaces(identity, kube, q, protect);
      return undefined;
    } catch (err) {
      assert.ok(err instanceof ZtkaError && err.code === 'forbidden', String(err));
      return err.message;
    }
  };
  for (const identity of [orgAdmin, admin, reader, jitAdmin])
    for (const ns of ['ztka-system', 'ztka-jit-1']) {
      assert.ok(refusal(identity, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/admin/token`));
      assert.ok(refusal(identity, 'GET', `/api/v1/namespaces/${ns}/serviceaccounts`));
      assert.ok(refusal(identity, 'DELETE', `/api/v1/namespaces/${ns}`));
      assert.ok(
        refusal(identity, 'GET', '/api/v1/serviceaccounts', `fieldSelector=metadata.namespace=${ns}`),
      );
    }
  assert.equal(
    refusal(orgAdmin, 'POST', '/api/v1/namespaces/ztka-jit-1/serviceaccounts/admin/token'),
    'serviceaccounts "admin" is forbidden: User "admin" cannot create resource "serviceaccounts/token" in ' +
      'the namespace "ztka-jit-1": the namespace "ztka-jit-1" holds ztka\'s just-in-time service accounts, ' +
      'which only the ztka agent manages',
  );
  assert.equal(refusal(orgAdmin, 'GET', '/api/v1/serviceaccounts'), undefined);
  assert.equal(refusal(orgAdmin, 'GET', '/api/v1/namespaces/team-a/serviceaccounts'), undefined);
});
