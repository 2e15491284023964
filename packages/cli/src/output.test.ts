import { test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { age, cell, renderData, renderFields, renderTable } from './output.js';

test('tables align columns and leave no trailing blanks', () => {
  const rows = [
    { name: 'desktop', status: 'connected' },
    { name: 'a', status: '' },
  ];
  const table = renderTable(rows, [
    { header: 'NAME', value: (r) => r.name },
    { header: 'STATUS', value: (r) => r.status },
  ]);
  assert.equal(table, 'NAME      STATUS\ndesktop   connected\na         -\n');
});

test('cells cannot carry control sequences or line breaks from the server', () => {
  assert.equal(cell('evil\u001b[2Jname\nnext'), 'evil?[2Jname next');
  assert.equal(cell(null), '-');
  assert.equal(cell(42), '42');
});

test('fields put each extra value line under the first', () => {
  assert.equal(
    renderFields([
      ['USERNAME', 'alice'],
      ['ROLES', ['ADMIN', 'PROJECT_ADMIN project=x']],
      ['GROUPS', []],
    ]),
    'USERNAME   alice\nROLES      ADMIN\n           PROJECT_ADMIN project=x\nGROUPS     <none>\n',
  );
});

test('JSON and YAML output carry the data unchanged', () => {
  const data = [{ name: 'a', connected: true, lastSeenAt: null, nested: { n: 1 } }];
  assert.deepEqual(JSON.parse(renderData(data, 'json')), data);
  assert.deepEqual(YAML.parse(renderData(data, 'yaml')), data);
});

test('ages read as past, future or never', () => {
  const now = Date.parse('2025-01-02T00:00:00Z');
  assert.equal(age('2025-01-01T21:00:00Z', now), '3h ago');
  assert.equal(age('2025-01-09T00:00:00Z', now), 'in 7d');
  assert.equal(age(null, now), 'never');
  assert.equal(age(undefined, now, '-'), '-');
  assert.equal(age('not a time', now), 'not a time');
});
