import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, observeProxied } from './metrics.js';

test('a proxied request is counted by cluster, verb and status, with its duration and bytes', async () => {
  const metrics = createMetrics();
  const observe = observeProxied(metrics);
  observe({ cluster: 'web-1', kube: { verb: 'list' } }, { status: 200, durationMs: 30, bytesOut: 512 });
  observe({ cluster: 'web-1', kube: { verb: 'list' } }, { status: 403, durationMs: 2, bytesOut: 100 });
  const text = await metrics.registry.metrics();
  assert.match(text, /^ztka_proxy_requests_total\{cluster="web-1",verb="list",code="200"\} 1$/m);
  assert.match(text, /^ztka_proxy_requests_total\{cluster="web-1",verb="list",code="403"\} 1$/m);
  assert.match(text, /^ztka_proxy_request_duration_seconds_count\{cluster="web-1",verb="list"\} 2$/m);
  assert.match(text, /^ztka_proxy_request_duration_seconds_sum\{cluster="web-1",verb="list"\} 0\.032$/m);
  assert.match(text, /^ztka_proxy_response_bytes_total\{cluster="web-1"\} 612$/m);
});
