import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capabilitiesOf, describeAssignment } from './capabilities.js';
import { pickProject } from './project-choice.js';

test('ADMIN may do everything', () => {
  const caps = capabilitiesOf([{ role: 'ADMIN' }]);
  assert.equal(caps.orgAdmin, true);
  assert.equal(caps.orgReader, true);
  assert.equal(caps.manageClusters('desktop'), true);
  assert.equal(caps.manageClusters(undefined), true);
});

test('ADMIN_READ_ONLY reads everything and writes nothing', () => {
  const caps = capabilitiesOf([{ role: 'ADMIN_READ_ONLY' }]);
  assert.equal(caps.orgAdmin, false);
  assert.equal(caps.orgReader, true);
  assert.equal(caps.manageClusters('desktop'), false);
});

test('PROJECT_ADMIN manages the clusters of its project only', () => {
  const caps = capabilitiesOf([
    { role: 'PROJECT_ADMIN', project: 'desktop' },
    { role: 'PROJECT_READ_ONLY', project: 'prod' },
  ]);
  assert.equal(caps.orgReader, false);
  assert.equal(caps.manageClusters('desktop'), true);
  assert.equal(caps.manageClusters('prod'), false);
  assert.deepEqual([...caps.projects].sort(), ['desktop', 'prod']);
});

test('namespace roles and no roles give no admin power', () => {
  for (const roles of [[], [{ role: 'NAMESPACE_ADMIN' as const, project: 'desktop' }]]) {
    const caps = capabilitiesOf(roles);
    assert.equal(caps.orgAdmin, false);
    assert.equal(caps.orgReader, false);
    assert.equal(caps.manageClusters('desktop'), false);
  }
});

test('an assignment reads as one line', () => {
  assert.equal(describeAssignment({ role: 'ADMIN' }), 'ADMIN');
  assert.equal(
    describeAssignment({ role: 'NAMESPACE_READ_ONLY', project: 'p', namespaces: ['a', 'b'] }),
    'NAMESPACE_READ_ONLY in p (a, b)',
  );
});

test('the console opens on the remembered project, else desktop, else the first', () => {
  assert.equal(pickProject(['a', 'desktop'], 'a'), 'a');
  assert.equal(pickProject(['a', 'desktop'], 'gone'), 'desktop');
  assert.equal(pickProject(['b', 'c'], undefined), 'b');
  assert.equal(pickProject([], 'x'), undefined);
});
