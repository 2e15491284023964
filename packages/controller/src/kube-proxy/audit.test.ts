import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKubeRequest } from '@ztka/protocol';
import { mayChangeCluster } from './audit.js';

const kube = (method: string, path: string) => parseKubeRequest(method, path, new URLSearchParams());

test('every verb that can change the cluster gets a record before it travels; reads do not', () => {
  const writes: [string, string][] = [
    ['POST', '/api/v1/namespaces/a/configmaps'],
    ['PUT', '/api/v1/namespaces/a/configmaps/b'],
    ['PATCH', '/api/v1/namespaces/a/configmaps/b'],
    ['DELETE', '/api/v1/namespaces/a/configmaps/b'],
    ['DELETE', '/api/v1/namespaces/a/configmaps'],
    ['GET', '/api/v1/namespaces/a/pods/b/exec'],
    ['GET', '/api/v1/namespaces/a/pods/b/attach'],
    ['GET', '/api/v1/namespaces/a/pods/b/portforward'],
    ['GET', '/api/v1/namespaces/a/pods/b/proxy/x'],
    ['GET', '/api/v1/proxy/namespaces/a/pods/b'],
    ['POST', '/apis/x'],
    ['BREW', '/api/v1/namespaces/a/configmaps'],
  ];
  for (const [m, p] of writes) assert.equal(mayChangeCluster(kube(m, p)), true, `${m} ${p}`);
  const reads: [string, string][] = [
    ['GET', '/api/v1/namespaces/a/configmaps'],
    ['GET', '/api/v1/namespaces/a/configmaps/b'],
    ['GET', '/api/v1/namespaces/a/pods/b/log'],
    ['GET', '/api'],
    ['HEAD', '/version'],
  ];
  for (const [m, p] of reads) assert.equal(mayChangeCluster(kube(m, p)), false, `${m} ${p}`);
});
