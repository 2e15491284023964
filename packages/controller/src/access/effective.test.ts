import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Role } from '@ztka/protocol';
import {
  apiPowers,
  canManageClusters,
  canSeeProject,
  effectiveAccess,
  type Assignment,
} from './effective.js';

const a = (role: Role, projectId: string | null = null, namespaces: string[] = []): Assignment => ({
  role,
  projectId,
  namespaces,
});

test('no assignment that reaches the project means no access', () => {
  assert.equal(effectiveAccess([], 'p1'), undefined);
  assert.equal(
    effectiveAccess([a('PROJECT_ADMIN', 'p2'), a('NAMESPACE_ADMIN', 'p2', ['x'])], 'p1'),
    undefined,
  );
});

test('org-wide roles reach every project', () => {
  assert.deepEqual(effectiveAccess([a('ADMIN')], 'p1'), { role: 'ADMIN' });
  assert.deepEqual(effectiveAccess([a('ADMIN_READ_ONLY')], 'p9'), { role: 'ADMIN_READ_ONLY' });
});

test('the highest privilege wins, whatever the order', () => {
  const set = [a('PROJECT_READ_ONLY', 'p1'), a('NAMESPACE_ADMIN', 'p1', ['a']), a('PROJECT_ADMIN', 'p1')];
  assert.deepEqual(effectiveAccess(set, 'p1'), { role: 'PROJECT_ADMIN' });
  assert.deepEqual(effectiveAccess([...set].reverse(), 'p1'), { role: 'PROJECT_ADMIN' });
  assert.deepEqual(effectiveAccess([a('ADMIN_READ_ONLY'), a('PROJECT_ADMIN', 'p1')], 'p1'), {
    role: 'PROJECT_ADMIN',
  });
  assert.deepEqual(effectiveAccess([a('ADMIN_READ_ONLY'), a('PROJECT_ADMIN', 'p1')], 'p2'), {
    role: 'ADMIN_READ_ONLY',
  });
  assert.deepEqual(effectiveAccess([a('NAMESPACE_ADMIN', 'p1', ['a']), a('PROJECT_READ_ONLY', 'p1')], 'p1'), {
    role: 'PROJECT_READ_ONLY',
  });
});

test('namespace roles of the same project merge their namespaces', () => {
  assert.deepEqual(
    effectiveAccess(
      [
        a('NAMESPACE_ADMIN', 'p1', ['b', 'a']),
        a('NAMESPACE_ADMIN', 'p1', ['c', 'a']),
        a('NAMESPACE_ADMIN', 'p2', ['z']),
        a('NAMESPACE_READ_ONLY', 'p1', ['a', 'd']),
      ],
      'p1',
    ),
    { role: 'NAMESPACE_ADMIN', namespaces: ['a', 'b', 'c'], readOnlyNamespaces: ['d'] },
  );
  assert.deepEqual(
    effectiveAccess([a('NAMESPACE_READ_ONLY', 'p1', ['x']), a('NAMESPACE_READ_ONLY', 'p1', ['w'])], 'p1'),
    {
      role: 'NAMESPACE_READ_ONLY',
      namespaces: ['w', 'x'],
    },
  );
});

test('API powers follow the same assignments', () => {
  const admin = apiPowers([a('ADMIN')]);
  assert.ok(
    admin.orgAdmin && admin.orgReader && canManageClusters(admin, 'any') && canSeeProject(admin, 'any'),
  );
  const reader = apiPowers([a('ADMIN_READ_ONLY')]);
  assert.ok(
    !reader.orgAdmin && reader.orgReader && canSeeProject(reader, 'p1') && !canManageClusters(reader, 'p1'),
  );
  const projectAdmin = apiPowers([a('PROJECT_ADMIN', 'p1'), a('NAMESPACE_READ_ONLY', 'p2', ['x'])]);
  assert.ok(!projectAdmin.orgReader);
  assert.ok(canManageClusters(projectAdmin, 'p1') && !canManageClusters(projectAdmin, 'p2'));
  assert.ok(canSeeProject(projectAdmin, 'p2') && !canSeeProject(projectAdmin, 'p3'));
});
