import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from './record.js';

test('canonical JSON sorts keys at every level and matches JSON for everything else', () => {
  const value = { b: 1, a: { d: [3, { z: 1, y: null }], c: 'x\n"<>' }, u: undefined, e: [undefined, 2] };
  assert.equal(canonicalJson(value), '{"a":{"c":"x\\n\\"<>","d":[3,{"y":null,"z":1}]},"b":1,"e":[null,2]}');
  assert.equal(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
  const sample = { kind: 'api', n: 1.5, t: true, s: 'ü😀\u0001', arr: [] };
  assert.deepEqual(JSON.parse(canonicalJson(sample)), sample);
});
