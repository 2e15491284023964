import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protectedNamespaceReached, protectedNamespaces } from './jit-namespace.js';
import { parseKubeRequest } from './kube-request.js';

function reached(method: string, target: string, jitNamespace?: string): string | undefined {
  const url = new URL(target, 'https://controller');
  const kube = parseKubeRequest(method, url.pathname, url.searchParams);
  return protectedNamespaceReached(kube, url.searchParams, protectedNamespaces(jitNamespace));
}

test('ztka-system is always protected, and the cluster’s own JIT namespace besides', () => {
  assert.deepEqual([...protectedNamespaces()], ['ztka-system']);
  assert.deepEqual([...protectedNamespaces('ztka-jit-1')], ['ztka-system', 'ztka-jit-1']);
  assert.deepEqual([...protectedNamespaces('ztka-system')], ['ztka-system']);
});

test('every way of naming the JIT namespace is caught', () => {
  const jit = 'ztka-jit-1';
  for (const ns of ['ztka-system', jit]) {
    const cases: [string, string][] = [
      ['GET', `/api/v1/namespaces/${ns}/serviceaccounts`],
      ['POST', `/api/v1/namespaces/${ns}/serviceaccounts/admin/token`],
      ['POST', `/api/v1/namespaces/${ns}/pods`],
      ['GET', `/api/v1/namespaces/${ns}/secrets/ztka-agent`],
      ['GET', `/api/v1/namespaces/${ns}`],
      ['DELETE', `/api/v1/namespaces/${ns}`],
      ['PATCH', `/api/v1/namespaces/${ns}`],
      ['PUT', `/api/v1/namespaces/${ns}/finalize`],
      ['GET', `/api/v1/namespaces/${ns.replace('-', '%2D')}/serviceaccounts`],
      ['GET', `/api/v1/watch/namespaces/${ns}/serviceaccounts`],
      ['GET', `/api/v1/proxy/namespaces/${ns}/pods/agent`],
      ['GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`],
      ['POST', `/apis/authorization.k8s.io/v1/namespaces/${ns}/localsubjectaccessreviews`],
      ['GET', `/api/v1/namespaces?fieldSelector=metadata.name%3D${ns}`],
      ['GET', `/api/v1/namespaces?fieldSelector=metadata.name%3D${ns}&watch=true`],
      ['DELETE', `/api/v1/namespaces?fieldSelector=metadata.name%3D%3D${ns}`],
      ['GET', `/api/v1/serviceaccounts?fieldSelector=metadata.namespace%3D${ns}`],
      ['GET', `/api/v1/secrets?fieldSelector=type%3Dopaque,metadata.namespace%3D%3D${ns}`],
      ['GET', `/api/v1/nodes/node-1/proxy/exec/${ns}/agent/agent?command=sh`],
      ['POST', `/api/v1/nodes/node-1/proxy/run/${ns}/agent/agent`],
      ['GET', `/api/v1/proxy/nodes/node-1/containerLogs/${ns}/agent/agent`],
    ];
    for (const [method, target] of cases)
      assert.equal(reached(method, target, jit), ns, `${method} ${target}`);
  }
});

test('a selector that parsers could read differently is refused rather than read', () => {
  assert.equal(reached('DELETE', '/api/v1/namespaces?fieldSelector=metadata.name%3Dx%3By'), 'ztka-system');
});

test('requests that do not name it are left to the cluster’s RBAC', () => {
  const cases: [string, string][] = [
    ['GET', '/api/v1/serviceaccounts'],
    ['GET', '/api/v1/secrets?watch=true'],
    ['GET', '/api/v1/namespaces'],
    ['GET', '/api/v1/namespaces/team-a/pods'],
    ['GET', '/api/v1/namespaces/team-a/configmaps/ztka-system'],
    ['GET', '/api/v1/serviceaccounts?fieldSelector=metadata.namespace!%3Dztka-system'],
    ['GET', '/api/v1/nodes/node-1/proxy/pods'],
    ['GET', '/api/v1'],
    ['GET', '/version'],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'],
    ['GET', '/apis/apps/v1/namespaces/default/deployments'],
  ];
  for (const [method, target] of cases)
    assert.equal(reached(method, target, 'ztka-jit-1'), undefined, `${method} ${target}`);
  // Another agent's JIT namespace is an ordinary namespace here.
  assert.equal(reached('GET', '/api/v1/namespaces/ztka-jit-2/pods', 'ztka-jit-1'), undefined);
});
