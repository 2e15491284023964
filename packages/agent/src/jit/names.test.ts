import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceAccountName } from './names.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

test('the seed example and plain names', () => {
  assert.equal(serviceAccountName('demos@rafay.co'), 'demos-64rafay-46co');
  assert.equal(serviceAccountName('Demos@Rafay.co'), 'demos-64rafay-46co');
  assert.equal(serviceAccountName('admin'), 'admin');
  assert.equal(serviceAccountName('a-b'), 'a-45b');
  assert.equal(serviceAccountName('x+y_z'), 'x-43y-95z');
});

test('hostile names become valid, distinct DNS-1123 labels', () => {
  const names = [
    'demos@rafay.co',
    'demos.rafay@co',
    '.leading-dot',
    '-leading-dash',
    'trailing.',
    'ünïcödé@example.com',
    'unicode@example.com',
    '日本語',
    '😀',
    'a.1',
    'aǒ',
    'a'.repeat(200),
    'a'.repeat(199) + 'b',
    `${'x'.repeat(60)}@example.com`,
    `${'x'.repeat(60)}@example.org`,
    'plus+tag@example.com',
    'plus-43tag@example.com',
  ];
  const out = names.map(serviceAccountName);
  for (const [i, name] of out.entries()) assert.match(name, DNS_LABEL, `${names[i]} → ${name}`);
  assert.equal(new Set(out).size, names.length, out.join('\n'));
});
