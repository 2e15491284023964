import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKubeRequest } from './kube-request.js';
import { agreesWithKubeRequestHeader, encodeKubeRequestHeader } from './kube-request-header.js';

const parse = (method: string, path: string, query = '') =>
  parseKubeRequest(method, path, new URLSearchParams(query));

test('a parse agrees with its own header, for resource and non-resource requests alike', () => {
  for (const kube of [
    parse('GET', '/api/v1/namespaces/team-a/pods/web/log', 'follow=true'),
    parse('GET', '/apis/apps/v1/deployments', 'watch=1'),
    parse('POST', '/api/v1/namespaces/team-a/pods/web/exec'),
    parse('GET', '/version'),
  ])
    assert.equal(agreesWithKubeRequestHeader(kube, encodeKubeRequestHeader(kube)), true);
});

test('another request, or a header that is not one, does not agree', () => {
  const pods = parse('GET', '/api/v1/namespaces/team-a/pods');
  const header = encodeKubeRequestHeader(pods);
  assert.equal(agreesWithKubeRequestHeader(parse('GET', '/api/v1/namespaces/team-b/pods'), header), false);
  assert.equal(agreesWithKubeRequestHeader(parse('DELETE', '/api/v1/namespaces/team-a/pods'), header), false);
  assert.equal(agreesWithKubeRequestHeader(parse('GET', '/api/v1/namespaces/team-a/secrets'), header), false);
  const extra = Buffer.from(JSON.stringify({ ...pods, path: '/x' })).toString('base64url');
  for (const bad of ['', 'not base64 json', extra, Buffer.from('[]').toString('base64url')])
    assert.equal(agreesWithKubeRequestHeader(pods, bad), false);
});
