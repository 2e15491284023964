import { test } from 'node:test';
import assert from 'node:assert/strict';
import { READ_ONLY_ROLE, bindingsFor, readOnlyClusterRole } from './rbac.js';

test('each role maps to the bindings of the design', () => {
  assert.deepEqual(bindingsFor('ADMIN'), [{ clusterRole: 'cluster-admin' }]);
  assert.deepEqual(bindingsFor('PROJECT_ADMIN'), [{ clusterRole: 'cluster-admin' }]);
  assert.deepEqual(bindingsFor('ADMIN_READ_ONLY'), [{ clusterRole: READ_ONLY_ROLE }]);
  assert.deepEqual(bindingsFor('PROJECT_READ_ONLY'), [{ clusterRole: READ_ONLY_ROLE }]);
  assert.deepEqual(bindingsFor('NAMESPACE_ADMIN', ['a', 'b'], ['c']), [
    { clusterRole: 'admin', namespace: 'a' },
    { clusterRole: 'admin', namespace: 'b' },
    { clusterRole: 'view', namespace: 'c' },
  ]);
  assert.deepEqual(bindingsFor('NAMESPACE_READ_ONLY', ['a']), [{ clusterRole: 'view', namespace: 'a' }]);
});

test('the read-only ClusterRole never grants secrets, writes or anything that runs code', () => {
  const role = readOnlyClusterRole() as { rules: { resources: string[]; verbs: string[] }[] };
  for (const rule of role.rules) {
    assert.deepEqual(rule.verbs, ['get', 'list', 'watch']);
    for (const r of rule.resources) assert.ok(!/secrets|exec|attach|portforward|proxy/.test(r), r);
  }
});
