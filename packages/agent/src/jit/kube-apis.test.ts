import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { failureOf } from './kube-apis.js';

test("a failed call is logged as one short line: the apiserver's status and its Status message", () => {
  const status = {
    kind: 'Status',
    code: 403,
    message: `serviceaccounts "x" is forbidden:\n${'why '.repeat(200)}`,
  };
  const line = failureOf(
    new ApiException(403, 'HTTP-Code: 403\nMessage: ...\nBody: ...', JSON.stringify(status), {}),
  );
  assert.match(line, /^the apiserver answered 403: serviceaccounts "x" is forbidden: why why/);
  assert.ok(line.length <= 300, `${line.length} characters`);
  assert.doesNotMatch(line, /\n/);
  // An answer that is not a Status is kept as text, cut as well.
  assert.equal(
    failureOf(new ApiException(502, 'm', 'bad gateway', {})),
    'the apiserver answered 502: bad gateway',
  );
  assert.equal(failureOf(new Error('x'.repeat(1000))).length, 300);
});
