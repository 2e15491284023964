import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detailText, formatMs, resourcePath, statusColor } from './audit-format.js';
import { localInputToIso, relativeTime } from './time.js';

test('relative times', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  assert.equal(relativeTime(null, now), 'never');
  assert.equal(relativeTime('2025-06-01T11:59:58Z', now), 'just now');
  assert.equal(relativeTime('2025-06-01T11:59:00Z', now), '1 min ago');
  assert.equal(relativeTime('2025-06-01T09:00:00Z', now), '3 h ago');
  assert.equal(relativeTime(now - 2 * 86_400_000, now), '2 d ago');
  assert.equal(localInputToIso(''), undefined);
  assert.equal(localInputToIso('nonsense'), undefined);
});

test('an API record reads as namespace/resource/name/subresource', () => {
  assert.equal(
    resourcePath({
      requestURI: '/api/v1/namespaces/kube-system/pods/p1/log?follow=true',
      objectRef: { namespace: 'kube-system', resource: 'pods', name: 'p1', subresource: 'log' },
    }),
    'kube-system/pods/p1/log',
  );
  assert.equal(
    resourcePath({
      requestURI: '/apis/apps/v1/deployments',
      objectRef: { apiGroup: 'apps', resource: 'deployments' },
    }),
    'deployments.apps',
  );
  assert.equal(resourcePath({ requestURI: '/version?timeout=32s' }), '/version');
});

test('status colors, durations and details', () => {
  assert.equal(statusColor(200), 'teal');
  assert.equal(statusColor(101), 'blue');
  assert.equal(statusColor(403), 'orange');
  assert.equal(statusColor(503), 'red');
  assert.equal(statusColor(0), 'gray');
  assert.equal(formatMs(12.4), '12 ms');
  assert.equal(formatMs(1400), '1.4 s');
  assert.equal(formatMs(undefined), '');
  assert.equal(detailText({ a: '<script>' }), '{"a":"<script>"}');
});
