import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardableHeaders } from './headers.js';

test("with dropCredentials: the caller's credential, impersonation, tunnel and hop-by-hop headers go", () => {
  const out = forwardableHeaders(
    {
      authorization: 'Bearer secret',
      'impersonate-user': 'system:admin',
      'impersonate-group': ['system:masters'],
      'impersonate-extra-scopes': 'x',
      'impersonate-uid': '1',
      'x-ztka-identity': 'forged',
      connection: 'keep-alive, x-custom-hop',
      'x-custom-hop': 'gone',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      host: 'controller',
      accept: 'application/json',
      'user-agent': 'kubectl/v1.33',
      'kubectl-command': 'kubectl get',
    },
    { dropCredentials: true },
  );
  assert.deepEqual(out, {
    accept: 'application/json',
    'user-agent': 'kubectl/v1.33',
    'kubectl-command': 'kubectl get',
  });
});

test('without it: pseudo, tunnel and hop-by-hop headers go, everything else stays', () => {
  assert.deepEqual(
    forwardableHeaders({
      ':status': 200,
      'content-type': 'application/json',
      'x-ztka-upgrade-status': '101',
      connection: 'close',
      'audit-id': 'a',
      authorization: 'kept on responses',
    }),
    { 'content-type': 'application/json', 'audit-id': 'a', authorization: 'kept on responses' },
  );
});
