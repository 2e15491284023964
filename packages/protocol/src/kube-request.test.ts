import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KubeRequestError,
  MAX_KUBE_PATH_LENGTH,
  parseKubeRequest,
  parseKubeTarget,
  type KubeRequest,
} from './kube-request.js';

/** One request and every field the parser must produce for it (`path` is checked to be the input). */
interface Case {
  method: string;
  url: string;
  want: Omit<KubeRequest, 'path'>;
}

function parse(method: string, url: string): KubeRequest {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  return parseKubeRequest(method, path, query);
}

function runTable(cases: readonly Case[]): void {
  for (const { method, url, want } of cases) {
    test(`${method} ${url}`, () => {
      const got = parse(method, url);
      const q = url.indexOf('?');
      assert.deepEqual(got, { path: q < 0 ? url : url.slice(0, q), ...want });
    });
  }
}

const nonResource = (verb: KubeRequest['verb']): Omit<KubeRequest, 'path'> => ({
  isResourceRequest: false,
  apiGroup: '',
  apiVersion: '',
  verb,
  isWatch: false,
});

describe('non-resource requests', () => {
  runTable([
    { method: 'GET', url: '/', want: nonResource('get') },
    { method: 'GET', url: '/version', want: nonResource('get') },
    { method: 'GET', url: '/healthz', want: nonResource('get') },
    { method: 'HEAD', url: '/healthz', want: nonResource('head') },
    { method: 'GET', url: '/readyz?verbose', want: nonResource('get') },
    { method: 'GET', url: '/livez/etcd', want: nonResource('get') },
    { method: 'GET', url: '/metrics', want: nonResource('get') },
    { method: 'GET', url: '/openapi/v2', want: nonResource('get') },
    { method: 'GET', url: '/openapi/v3', want: nonResource('get') },
    { method: 'GET', url: '/openapi/v3/apis/apps/v1?hash=ABC123', want: nonResource('get') },
    { method: 'GET', url: '/.well-known/openid-configuration', want: nonResource('get') },
    { method: 'GET', url: '/logs/kube-apiserver.log', want: nonResource('get') },
    // discovery
    { method: 'GET', url: '/api', want: nonResource('get') },
    { method: 'GET', url: '/api/', want: nonResource('get') },
    { method: 'GET', url: '/api/v1', want: nonResource('get') },
    { method: 'GET', url: '/api/v1/', want: nonResource('get') },
    { method: 'GET', url: '/apis', want: nonResource('get') },
    { method: 'GET', url: '/apis/apps', want: nonResource('get') },
    { method: 'GET', url: '/apis/apps/v1', want: nonResource('get') },
    { method: 'GET', url: '/apis/rbac.authorization.k8s.io/v1', want: nonResource('get') },
    { method: 'GET', url: '/apis/stable.example.com/v1/', want: nonResource('get') },
    // other methods: the lowercased method, or 'other'
    { method: 'POST', url: '/apis/apps/v1', want: nonResource('post') },
    { method: 'PUT', url: '/version', want: nonResource('put') },
    { method: 'PATCH', url: '/version', want: nonResource('patch') },
    { method: 'DELETE', url: '/healthz', want: nonResource('delete') },
    { method: 'OPTIONS', url: '/apis', want: nonResource('options') },
    { method: 'get', url: '/version', want: nonResource('get') },
    { method: 'TRACE', url: '/version', want: nonResource('other') },
    { method: 'CONNECT', url: '/version', want: nonResource('other') },
    // prefixes are case-sensitive, and unknown prefixes are never resources
    { method: 'GET', url: '/API/v1/pods', want: nonResource('get') },
    { method: 'GET', url: '/apiz/v1/pods', want: nonResource('get') },
    { method: 'DELETE', url: '/k8s/v1/pods', want: nonResource('delete') },
  ]);
});

describe('core resources', () => {
  const core = { isResourceRequest: true, apiGroup: '', apiVersion: 'v1', isWatch: false } as const;
  runTable([
    { method: 'GET', url: '/api/v1/pods', want: { ...core, resource: 'pods', verb: 'list' } },
    { method: 'GET', url: '/api/v1/pods/', want: { ...core, resource: 'pods', verb: 'list' } },
    { method: 'HEAD', url: '/api/v1/pods', want: { ...core, resource: 'pods', verb: 'list' } },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?limit=500',
      want: { ...core, namespace: 'default', resource: 'pods', verb: 'list' },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods/web-0',
      want: { ...core, namespace: 'default', resource: 'pods', name: 'web-0', verb: 'get' },
    },
    {
      method: 'HEAD',
      url: '/api/v1/namespaces/default/pods/web-0',
      want: { ...core, namespace: 'default', resource: 'pods', name: 'web-0', verb: 'get' },
    },
    {
      method: 'POST',
      url: '/api/v1/namespaces/default/pods',
      want: { ...core, namespace: 'default', resource: 'pods', verb: 'create' },
    },
    {
      method: 'PUT',
      url: '/api/v1/namespaces/default/configmaps/settings',
      want: { ...core, namespace: 'default', resource: 'configmaps', name: 'settings', verb: 'update' },
    },
    {
      method: 'PATCH',
      url: '/api/v1/namespaces/default/configmaps/settings?fieldManager=kubectl-edit',
      want: { ...core, namespace: 'default', resource: 'configmaps', name: 'settings', verb: 'patch' },
    },
    {
      method: 'DELETE',
      url: '/api/v1/namespaces/default/secrets/db-password',
      want: { ...core, namespace: 'default', resource: 'secrets', name: 'db-password', verb: 'delete' },
    },
    {
      method: 'DELETE',
      url: '/api/v1/namespaces/default/secrets',
      want: { ...core, namespace: 'default', resource: 'secrets', verb: 'deletecollection' },
    },
    {
      method: 'DELETE',
      url: '/api/v1/pods?labelSelector=app%3Dweb',
      want: { ...core, resource: 'pods', verb: 'deletecollection' },
    },
    { method: 'OPTIONS', url: '/api/v1/pods', want: { ...core, resource: 'pods', verb: 'other' } },
    {
      method: 'post',
      url: '/api/v1/namespaces/default/pods',
      want: { ...core, namespace: 'default', resource: 'pods', verb: 'other' },
    },
    {
      method: 'PUT',
      url: '/api/v1/namespaces/default/pods/web-0/status',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'status',
        verb: 'update',
      },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods/web-0/log?container=app&follow=true',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'log',
        verb: 'get',
      },
    },
    {
      method: 'POST',
      url: '/api/v1/namespaces/default/pods/web-0/eviction',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'eviction',
        verb: 'create',
      },
    },
    {
      method: 'POST',
      url: '/api/v1/namespaces/default/serviceaccounts/builder/token',
      want: {
        ...core,
        namespace: 'default',
        resource: 'serviceaccounts',
        name: 'builder',
        subresource: 'token',
        verb: 'create',
      },
    },
    // exec / attach / portforward: SPDY POSTs (create), WebSocket GETs (get)
    {
      method: 'POST',
      url: '/api/v1/namespaces/default/pods/web-0/exec?command=sh&stdin=true&tty=true&container=app',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'exec',
        verb: 'create',
      },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods/web-0/exec?command=ls&command=-l&stdout=true',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'exec',
        verb: 'get',
      },
    },
    {
      method: 'POST',
      url: '/api/v1/namespaces/default/pods/web-0/attach?stdin=true',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'attach',
        verb: 'create',
      },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods/web-0/attach?stdout=true',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'attach',
        verb: 'get',
      },
    },
    {
      method: 'POST',
      url: '/api/v1/namespaces/default/pods/web-0/portforward',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'portforward',
        verb: 'create',
      },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods/web-0/portforward?ports=8080',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'portforward',
        verb: 'get',
      },
    },
    // the proxy subresource: trailing segments are the proxied path and are not interpreted
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods/web-0/proxy',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0',
        subresource: 'proxy',
        verb: 'get',
      },
    },
    {
      method: 'POST',
      url: '/api/v1/namespaces/default/pods/web-0:8080/proxy/api/v1/pods/extra',
      want: {
        ...core,
        namespace: 'default',
        resource: 'pods',
        name: 'web-0:8080',
        subresource: 'proxy',
        verb: 'create',
      },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/monitoring/services/https:grafana:443/proxy/',
      want: {
        ...core,
        namespace: 'monitoring',
        resource: 'services',
        name: 'https:grafana:443',
        subresource: 'proxy',
        verb: 'get',
      },
    },
    // cluster-scoped
    { method: 'GET', url: '/api/v1/nodes', want: { ...core, resource: 'nodes', verb: 'list' } },
    {
      method: 'GET',
      url: '/api/v1/nodes/node-1',
      want: { ...core, resource: 'nodes', name: 'node-1', verb: 'get' },
    },
    {
      method: 'PATCH',
      url: '/api/v1/nodes/node-1/status',
      want: { ...core, resource: 'nodes', name: 'node-1', subresource: 'status', verb: 'patch' },
    },
    {
      method: 'GET',
      url: '/api/v1/nodes/node-1/proxy/metrics/cadvisor',
      want: { ...core, resource: 'nodes', name: 'node-1', subresource: 'proxy', verb: 'get' },
    },
    {
      method: 'DELETE',
      url: '/api/v1/persistentvolumes/pv-0001',
      want: { ...core, resource: 'persistentvolumes', name: 'pv-0001', verb: 'delete' },
    },
    // a core path with an unusual version is still a resource request
    {
      method: 'GET',
      url: '/api/v2beta1/things',
      want: { ...core, apiVersion: 'v2beta1', resource: 'things', verb: 'list' },
    },
  ]);
});

describe('the namespaces resource', () => {
  const core = { isResourceRequest: true, apiGroup: '', apiVersion: 'v1', resource: 'namespaces' } as const;
  runTable([
    { method: 'GET', url: '/api/v1/namespaces', want: { ...core, verb: 'list', isWatch: false } },
    { method: 'POST', url: '/api/v1/namespaces', want: { ...core, verb: 'create', isWatch: false } },
    {
      method: 'DELETE',
      url: '/api/v1/namespaces',
      want: { ...core, verb: 'deletecollection', isWatch: false },
    },
    { method: 'GET', url: '/api/v1/namespaces?watch=1', want: { ...core, verb: 'watch', isWatch: true } },
    {
      method: 'GET',
      url: '/api/v1/namespaces/kube-system',
      want: { ...core, namespace: 'kube-system', name: 'kube-system', verb: 'get', isWatch: false },
    },
    {
      method: 'DELETE',
      url: '/api/v1/namespaces/team-a',
      want: { ...core, namespace: 'team-a', name: 'team-a', verb: 'delete', isWatch: false },
    },
    {
      method: 'PUT',
      url: '/api/v1/namespaces/team-a/finalize',
      want: {
        ...core,
        namespace: 'team-a',
        name: 'team-a',
        subresource: 'finalize',
        verb: 'update',
        isWatch: false,
      },
    },
    {
      method: 'PATCH',
      url: '/api/v1/namespaces/team-a/status',
      want: {
        ...core,
        namespace: 'team-a',
        name: 'team-a',
        subresource: 'status',
        verb: 'patch',
        isWatch: false,
      },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/team-a/status/extra',
      want: {
        ...core,
        namespace: 'team-a',
        name: 'team-a',
        subresource: 'status',
        verb: 'get',
        isWatch: false,
      },
    },
    {
      // 'status' as the third segment always means the namespace subresource, never a resource of that name
      method: 'GET',
      url: '/apis/example.com/v1/namespaces/team-a/status',
      want: {
        ...core,
        apiGroup: 'example.com',
        namespace: 'team-a',
        name: 'team-a',
        subresource: 'status',
        verb: 'get',
        isWatch: false,
      },
    },
    {
      // a resource called 'namespaces' inside a namespace is an ordinary namespaced collection
      method: 'GET',
      url: '/apis/hnc.x-k8s.io/v1alpha2/namespaces/team-a/namespaces',
      want: {
        ...core,
        apiGroup: 'hnc.x-k8s.io',
        apiVersion: 'v1alpha2',
        namespace: 'team-a',
        verb: 'list',
        isWatch: false,
      },
    },
  ]);
});

describe('group resources, cluster-scoped resources and CRDs', () => {
  const res = { isResourceRequest: true, isWatch: false } as const;
  runTable([
    {
      method: 'GET',
      url: '/apis/apps/v1/deployments',
      want: { ...res, apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', verb: 'list' },
    },
    {
      method: 'GET',
      url: '/apis/apps/v1/namespaces/default/deployments/web',
      want: {
        ...res,
        apiGroup: 'apps',
        apiVersion: 'v1',
        namespace: 'default',
        resource: 'deployments',
        name: 'web',
        verb: 'get',
      },
    },
    {
      method: 'PUT',
      url: '/apis/apps/v1/namespaces/default/deployments/web/scale',
      want: {
        ...res,
        apiGroup: 'apps',
        apiVersion: 'v1',
        namespace: 'default',
        resource: 'deployments',
        name: 'web',
        subresource: 'scale',
        verb: 'update',
      },
    },
    {
      method: 'GET',
      url: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      want: {
        ...res,
        apiGroup: 'rbac.authorization.k8s.io',
        apiVersion: 'v1',
        resource: 'clusterroles',
        verb: 'list',
      },
    },
    {
      method: 'GET',
      url: '/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin',
      want: {
        ...res,
        apiGroup: 'rbac.authorization.k8s.io',
        apiVersion: 'v1',
        resource: 'clusterroles',
        name: 'cluster-admin',
        verb: 'get',
      },
    },
    {
      method: 'POST',
      url: '/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings',
      want: {
        ...res,
        apiGroup: 'rbac.authorization.k8s.io',
        apiVersion: 'v1',
        namespace: 'team-a',
        resource: 'rolebindings',
        verb: 'create',
      },
    },
    {
      method: 'POST',
      url: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      want: {
        ...res,
        apiGroup: 'authorization.k8s.io',
        apiVersion: 'v1',
        resource: 'selfsubjectaccessreviews',
        verb: 'create',
      },
    },
    {
      method: 'GET',
      url: '/apis/stable.example.com/v1/namespaces/default/crontabs/my-cron',
      want: {
        ...res,
        apiGroup: 'stable.example.com',
        apiVersion: 'v1',
        namespace: 'default',
        resource: 'crontabs',
        name: 'my-cron',
        verb: 'get',
      },
    },
    {
      method: 'PATCH',
      url: '/apis/stable.example.com/v1/namespaces/default/crontabs/my-cron/status',
      want: {
        ...res,
        apiGroup: 'stable.example.com',
        apiVersion: 'v1',
        namespace: 'default',
        resource: 'crontabs',
        name: 'my-cron',
        subresource: 'status',
        verb: 'patch',
      },
    },
    {
      method: 'DELETE',
      url: '/apis/cert-manager.io/v1/clusterissuers/letsencrypt-prod',
      want: {
        ...res,
        apiGroup: 'cert-manager.io',
        apiVersion: 'v1',
        resource: 'clusterissuers',
        name: 'letsencrypt-prod',
        verb: 'delete',
      },
    },
    {
      method: 'GET',
      url: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/crontabs.stable.example.com',
      want: {
        ...res,
        apiGroup: 'apiextensions.k8s.io',
        apiVersion: 'v1',
        resource: 'customresourcedefinitions',
        name: 'crontabs.stable.example.com',
        verb: 'get',
      },
    },
  ]);
});

describe('watch, query form', () => {
  const pods = {
    isResourceRequest: true,
    apiGroup: '',
    apiVersion: 'v1',
    namespace: 'default',
    resource: 'pods',
  } as const;
  const watch = { ...pods, verb: 'watch', isWatch: true } as const;
  const list = { ...pods, verb: 'list', isWatch: false } as const;
  runTable([
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=true', want: watch },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=1', want: watch },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=TRUE', want: watch },
    // the apiserver treats every value but 0/false as true, including an empty one
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch', want: watch },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=yes', want: watch },
    { method: 'HEAD', url: '/api/v1/namespaces/default/pods?watch=true', want: watch },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?allowWatchBookmarks=true&resourceVersion=4711&timeoutSeconds=300&watch=true',
      want: watch,
    },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=false', want: list },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=False', want: list },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=0', want: list },
    // Go's strings.EqualFold: the long s folds to 's'
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=fal%C5%BFe', want: list },
    // only the first value counts
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=false&watch=true', want: list },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watch=1&watch=0', want: watch },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?watchx=true', want: list },
    // kubectl get -w pod web-0: a collection watch pinned to one name by a field selector
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0&resourceVersion=0&watch=true',
      want: { ...watch, name: 'web-0' },
    },
    // kubectl get pod --field-selector metadata.name=web-0 (a list pinned to one name)
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0',
      want: { ...list, name: 'web-0' },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D%3Dweb-0',
      want: { ...list, name: 'web-0' },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning,metadata.name%3Dweb-0&watch=1',
      want: { ...watch, name: 'web-0' },
    },
    // terms are sorted before the first exact metadata.name term is taken
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dzeta,metadata.name%3Dalpha',
      want: { ...list, name: 'alpha' },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Da%5C%2Cb',
      want: { ...list, name: 'a,b' },
    },
    // selectors that pin no name
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name!%3Dweb-0',
      want: list,
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.namespace%3Ddefault',
      want: list,
    },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D', want: list },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Da%2Fb', want: list },
    { method: 'GET', url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D..', want: list },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=+metadata.name%3Dweb-0',
      want: list,
    },
    // an invalid term voids the whole selector
    { method: 'GET', url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Da%3Db', want: list },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0,garbage',
      want: list,
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb%5Cx',
      want: list,
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb%5C',
      want: list,
    },
    // a named GET with watch=true is still a get: the apiserver serves the object
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/pods/web-0?watch=true',
      want: { ...pods, name: 'web-0', verb: 'get', isWatch: false },
    },
    // field selectors only apply to collection GETs
    {
      method: 'DELETE',
      url: '/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-0',
      want: { ...pods, verb: 'deletecollection', isWatch: false },
    },
    {
      method: 'GET',
      url: '/apis/rbac.authorization.k8s.io/v1/clusterroles?fieldSelector=metadata.name%3Dview&watch=true',
      want: {
        isResourceRequest: true,
        apiGroup: 'rbac.authorization.k8s.io',
        apiVersion: 'v1',
        resource: 'clusterroles',
        name: 'view',
        verb: 'watch',
        isWatch: true,
      },
    },
  ]);
});

describe('legacy path prefixes: watch and proxy', () => {
  const core = { isResourceRequest: true, apiGroup: '', apiVersion: 'v1' } as const;
  runTable([
    {
      method: 'GET',
      url: '/api/v1/watch/pods',
      want: { ...core, resource: 'pods', verb: 'watch', isWatch: true },
    },
    {
      method: 'GET',
      url: '/api/v1/watch/namespaces/default/pods',
      want: { ...core, namespace: 'default', resource: 'pods', verb: 'watch', isWatch: true },
    },
    {
      method: 'GET',
      url: '/api/v1/watch/namespaces/default/pods/web-0',
      want: { ...core, namespace: 'default', resource: 'pods', name: 'web-0', verb: 'watch', isWatch: true },
    },
    {
      method: 'GET',
      url: '/api/v1/watch/namespaces',
      want: { ...core, resource: 'namespaces', verb: 'watch', isWatch: true },
    },
    {
      method: 'GET',
      url: '/api/v1/watch/namespaces/team-a',
      want: {
        ...core,
        namespace: 'team-a',
        resource: 'namespaces',
        name: 'team-a',
        verb: 'watch',
        isWatch: true,
      },
    },
    {
      method: 'GET',
      url: '/apis/apps/v1/watch/namespaces/default/deployments',
      want: {
        ...core,
        apiGroup: 'apps',
        namespace: 'default',
        resource: 'deployments',
        verb: 'watch',
        isWatch: true,
      },
    },
    {
      // the prefix decides; the query is not interpreted
      method: 'GET',
      url: '/api/v1/watch/namespaces/default/pods?watch=false&fieldSelector=metadata.name%3Dweb-0',
      want: { ...core, namespace: 'default', resource: 'pods', verb: 'watch', isWatch: true },
    },
    {
      method: 'GET',
      url: '/api/v1/watch/nodes/node-1/status',
      want: {
        ...core,
        resource: 'nodes',
        name: 'node-1',
        subresource: 'status',
        verb: 'watch',
        isWatch: true,
      },
    },
    {
      method: 'GET',
      url: '/api/v1/proxy/namespaces/default/pods/web-0/healthz',
      want: { ...core, namespace: 'default', resource: 'pods', name: 'web-0', verb: 'proxy', isWatch: false },
    },
    {
      method: 'POST',
      url: '/api/v1/proxy/nodes/node-1/metrics',
      want: { ...core, resource: 'nodes', name: 'node-1', verb: 'proxy', isWatch: false },
    },
    {
      method: 'GET',
      url: '/api/v1/proxy/services',
      want: { ...core, resource: 'services', verb: 'proxy', isWatch: false },
    },
  ]);

  for (const url of [
    '/api/v1/watch',
    '/api/v1/watch/',
    '/api/v1/proxy',
    '/apis/apps/v1/watch',
    '/apis/apps/v1/proxy',
  ]) {
    test(`GET ${url} is an error`, () => {
      assert.throws(() => parse('GET', url), {
        name: 'KubeRequestError',
        message: /prefix needs a resource/,
      });
    });
  }
});

describe('percent-decoding', () => {
  const core = { isResourceRequest: true, apiGroup: '', apiVersion: 'v1', isWatch: false } as const;
  runTable([
    {
      method: 'GET',
      url: '/api/v1/namespaces/def%61ult/pods',
      want: { ...core, namespace: 'default', resource: 'pods', verb: 'list' },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/configmaps/a%3Ab',
      want: { ...core, namespace: 'default', resource: 'configmaps', name: 'a:b', verb: 'get' },
    },
    {
      // decoded once, like Go: a double-encoded slash stays the three characters '%2F'
      method: 'GET',
      url: '/api/v1/namespaces/default/configmaps/a%252Fb',
      want: { ...core, namespace: 'default', resource: 'configmaps', name: 'a%2Fb', verb: 'get' },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/configmaps/caf%C3%A9',
      want: { ...core, namespace: 'default', resource: 'configmaps', name: 'café', verb: 'get' },
    },
    {
      method: 'GET',
      url: '/api/v1/namespaces/default/configmaps/a+b',
      want: { ...core, namespace: 'default', resource: 'configmaps', name: 'a+b', verb: 'get' },
    },
  ]);

  test('the returned path is the raw one', () => {
    assert.equal(parse('GET', '/api/v1/namespaces/def%61ult/pods').path, '/api/v1/namespaces/def%61ult/pods');
  });
});

describe('hostile and malformed input', () => {
  const rejected: [string, RegExp][] = [
    ['/api/v1/namespaces/../secrets', /dot segment/],
    ['/api/v1/namespaces/default/pods/..', /dot segment/],
    ['/api/v1/./pods', /dot segment/],
    ['/healthz/../api/v1/secrets', /dot segment/],
    ['/api/v1/namespaces/%2e%2e/secrets', /dot segment/],
    ['/api/v1/namespaces/.%2E/secrets', /dot segment/],
    ['/api/v1/namespaces/%2E/pods', /dot segment/],
    ['/api/v1/namespaces/default%2Fsecrets', /encoded slash/],
    ['/api/v1/namespaces/default/secrets/a%2fb', /encoded slash/],
    ['/api%2Fv1/pods', /encoded slash/],
    ['/api//v1/pods', /empty segment/],
    ['//api/v1/pods', /empty segment/],
    ['/api/v1/pods//', /empty segment/],
    ['//', /empty segment/],
    ['', /leading '\/'/],
    ['api/v1/pods', /leading '\/'/],
    ['/api/v1/pods?watch=true', /'\?' or '#'/],
    ['/api/v1/pods#frag', /'\?' or '#'/],
    ['/api\\v1/pods', /backslash/],
    ['/api/v1/namespaces/default/pods/%zz', /malformed percent-encoding/],
    ['/api/v1/namespaces/default/pods/%', /malformed percent-encoding/],
    ['/api/v1/namespaces/default/pods/%FF', /malformed percent-encoding/],
    ['/api/v1/namespaces/default/pods/a b', /space, control or non-ASCII/],
    ['/api/v1/namespaces/default/pods/a\nb', /space, control or non-ASCII/],
    ['/api/v1/namespaces/default/pods/a\u0000', /space, control or non-ASCII/],
    ['/api/v1/namespaces/default/pods/caf\u00e9', /space, control or non-ASCII/],
    [
      '/api/v1/namespaces/default/configmaps/' + 'a'.repeat(MAX_KUBE_PATH_LENGTH),
      /more than the 8192 allowed/,
    ],
    ['/' + 'x/'.repeat(100_000), /more than the 8192 allowed/],
  ];
  for (const [path, message] of rejected) {
    test(`rejects ${JSON.stringify(path.length > 60 ? `${path.slice(0, 60)}…` : path)}`, () => {
      for (const method of ['GET', 'POST']) {
        assert.throws(
          () => parseKubeRequest(method, path, new URLSearchParams()),
          (err: unknown) => {
            assert.ok(err instanceof KubeRequestError, `expected KubeRequestError, got ${String(err)}`);
            assert.ok(err instanceof Error);
            assert.equal(err.name, 'KubeRequestError');
            assert.match(err.message, message);
            return true;
          },
        );
      }
    });
  }

  test('error messages quote the path and cut long ones short', () => {
    const path = `/api/v1/namespaces/${'n'.repeat(500)}/pods/%2e%2e`;
    assert.throws(
      () => parseKubeRequest('GET', path, new URLSearchParams()),
      (err: unknown) => {
        assert.ok(err instanceof KubeRequestError);
        assert.ok(err.message.startsWith(`dot segment '%2e%2e' in kube API path "/api/v1/namespaces/nnn`));
        assert.ok(err.message.endsWith('…"'));
        assert.ok(err.message.length < 200);
        return true;
      },
    );
  });

  test('a path of exactly the maximum length is accepted', () => {
    const prefix = '/api/v1/namespaces/default/configmaps/';
    const path = prefix + 'a'.repeat(MAX_KUBE_PATH_LENGTH - prefix.length);
    assert.equal(path.length, MAX_KUBE_PATH_LENGTH);
    const got = parseKubeRequest('GET', path, new URLSearchParams());
    assert.equal(got.name, 'a'.repeat(MAX_KUBE_PATH_LENGTH - prefix.length));
    assert.equal(got.verb, 'get');
  });

  // Go's url.ParseQuery drops pairs with a raw ';' or a bad escape; URLSearchParams keeps them.
  const ambiguousQueries = [
    'watch=true;x=1',
    'watch=%zz',
    'watch=%2541',
    'fieldSelector=metadata.name%3Dweb-0;x',
    'fieldSelector=metadata.name%3Dweb%25',
  ];
  for (const query of ambiguousQueries) {
    test(`rejects the ambiguous collection query ${query}`, () => {
      assert.throws(() => parse('GET', `/api/v1/namespaces/default/pods?${query}`), {
        name: 'KubeRequestError',
        message: /contains ';' or '%'/,
      });
    });
  }

  test('query parameters that are not interpreted are not checked', () => {
    const got = parse('GET', '/api/v1/namespaces/default/pods/web-0?watch=true;x=1');
    assert.equal(got.verb, 'get');
    assert.equal(got.name, 'web-0');
  });
});

describe('the result', () => {
  test('is frozen', () => {
    const resource = parse('GET', '/api/v1/namespaces/default/pods/web-0');
    const nonResource = parse('GET', '/version');
    assert.ok(Object.isFrozen(resource));
    assert.ok(Object.isFrozen(nonResource));
    assert.throws(() => {
      (resource as { verb: string }).verb = 'delete';
    }, TypeError);
    assert.equal(resource.verb, 'get');
  });

  test('omits absent optional fields instead of setting them to undefined', () => {
    const got = parse('GET', '/api/v1/nodes');
    assert.deepEqual(Object.keys(got).sort(), [
      'apiGroup',
      'apiVersion',
      'isResourceRequest',
      'isWatch',
      'path',
      'resource',
      'verb',
    ]);
  });
});

test("parseKubeTarget reads a stream's :path as the apiserver will, its query apart, and refuses what the parser does", () => {
  const watch = parseKubeTarget('GET', '/api/v1/namespaces/team-a/pods?watch=true&resourceVersion=5');
  assert.equal(watch?.kube.isWatch, true);
  assert.equal(watch?.kube.namespace, 'team-a');
  assert.equal(watch?.query.get('resourceVersion'), '5');
  assert.equal(parseKubeTarget('GET', '/api/v1/namespaces/team-a/pods')?.kube.verb, 'list');
  assert.equal(parseKubeTarget('GET', `/api/v1/${'x'.repeat(MAX_KUBE_PATH_LENGTH)}`), undefined);
});
