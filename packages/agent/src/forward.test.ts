import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isList } from './forward.js';

test('LISTs are told apart from gets, watches and discovery, to travel over HTTP/1.1', () => {
  assert.equal(isList('GET', '/api/v1/namespaces/team-a/configmaps?limit=500'), true);
  assert.equal(isList('GET', '/apis/apps/v1/deployments'), true);
  assert.equal(isList('GET', '/api/v1/namespaces/team-a/configmaps/one'), false);
  assert.equal(isList('GET', '/api/v1/configmaps?watch=true'), false);
  assert.equal(isList('POST', '/api/v1/namespaces/team-a/configmaps'), false);
  assert.equal(isList('GET', '/apis'), false);
  assert.equal(isList('GET', '/%%%/not a path'), false);
});
