import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNamespacePodSecurity, isPodSecurityLevel } from './pod-security.js';
import { decodeIdentity, encodeIdentity } from './tunnel.js';

test('the setting is off or a level; privileged and unknown values are neither', () => {
  for (const v of ['off', 'baseline', 'restricted']) assert.equal(isNamespacePodSecurity(v), true, v);
  for (const v of ['privileged', 'Restricted', '', undefined, 1])
    assert.equal(isNamespacePodSecurity(v), false);
  assert.equal(isPodSecurityLevel('off'), false);
});

test('a tunnel identity carries the level, and one the agent does not know fails to decode', () => {
  const base = { user: 'u', userId: 'id', role: 'NAMESPACE_ADMIN', namespaces: ['a'] };
  assert.equal(
    decodeIdentity(encodeIdentity({ ...base, podSecurity: 'restricted' })).podSecurity,
    'restricted',
  );
  assert.equal(decodeIdentity(encodeIdentity(base)).podSecurity, undefined);
  const unknown = Buffer.from(JSON.stringify({ ...base, podSecurity: 'privileged' })).toString('base64url');
  assert.throws(() => decodeIdentity(unknown), /unknown Pod Security level privileged/);
});
