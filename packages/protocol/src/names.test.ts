import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DNS_LABEL_MAX, isDnsLabel } from './names.js';

test('DNS-1123 labels', () => {
  for (const name of ['a', '0', 'prod-eu-1', 'a'.repeat(DNS_LABEL_MAX)]) assert.ok(isDnsLabel(name), name);
  for (const name of ['', '-a', 'a-', 'A', 'a_b', 'a.b', 'é', 'a'.repeat(DNS_LABEL_MAX + 1)])
    assert.ok(!isDnsLabel(name), name);
});
