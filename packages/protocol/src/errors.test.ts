import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, ZtkaError, kubeStatus, type ErrorCode } from './errors.js';

test('docs/errors.md lists exactly the error codes, with their statuses and reasons', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (\w+) \|/gm)].map(
    ([, code, status, reason]) => ({
      code,
      status: Number(status),
      reason,
    }),
  );
  const expected = Object.entries(ERROR_CODES).map(([code, v]) => ({
    code,
    status: v.status,
    reason: v.reason,
  }));
  const byCode = (a: { code: string | undefined }, b: { code: string | undefined }) =>
    String(a.code).localeCompare(String(b.code));
  assert.deepEqual(rows.sort(byCode), expected.sort(byCode));
});

test('kubeStatus renders the metav1.Status kubectl expects', () => {
  const err = new ZtkaError('cluster_unavailable', 'cluster desktop is not connected');
  assert.deepEqual(kubeStatus(err), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'cluster desktop is not connected',
    reason: 'ServiceUnavailable',
    code: 503,
  });
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    assert.equal(new ZtkaError(code, 'x').status, ERROR_CODES[code].status);
  }
});
