import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  auditQuery,
  auditStateFromSearch,
  auditStateToSearch,
  drillDown,
  emptyFilters,
  exportHref,
} from './audit-query.js';

test('defaults: Kubectl tab, API view, last 24 h, no filters, and an empty URL', () => {
  const state = auditStateFromSearch(new URLSearchParams());
  assert.equal(state.tab, 'kubectl');
  assert.equal(state.view, 'api');
  assert.equal(state.filters.range, '24h');
  assert.equal(auditStateToSearch(state).toString(), '');
  assert.deepEqual(auditQuery('api', state.filters), { last: '24h' });
});

test('the URL round-trips tab, view and filters', () => {
  const params = new URLSearchParams('view=commands&last=1h&cluster=c1&user=alice&q=get+ns');
  const state = auditStateFromSearch(params);
  assert.equal(state.view, 'commands');
  assert.equal(auditStateToSearch(state).toString(), params.toString());
});

test('each list sends only the filters it understands', () => {
  const f = { ...emptyFilters(), range: '10m' as const, namespace: 'kube-system', user: 'a', verb: 'get' };
  assert.deepEqual(auditQuery('api', f), { last: '10m', user: 'a', namespace: 'kube-system', verb: 'get' });
  assert.deepEqual(auditQuery('commands', f), { last: '10m', user: 'a' });
  assert.deepEqual(auditQuery('system', f), { last: '10m', user: 'a' });
});

test('all time sends no range; a custom range sends ISO times', () => {
  assert.deepEqual(auditQuery('api', { ...emptyFilters(), range: 'all' }), {});
  const q = auditQuery('api', {
    ...emptyFilters(),
    range: 'custom',
    since: '2025-01-02T03:04',
    until: 'junk',
  });
  assert.equal(q['since'], new Date('2025-01-02T03:04').toISOString());
  assert.equal(q['until'], undefined);
  assert.equal(q['last'], undefined);
});

test('a custom range survives the URL', () => {
  const state = auditStateFromSearch(new URLSearchParams('since=2025-01-02T03:04'));
  assert.equal(state.filters.range, 'custom');
  assert.equal(state.filters.since, '2025-01-02T03:04');
});

test('export links carry the kind and the filters, and escape them', () => {
  const f = { ...emptyFilters(), q: '<b>&x' };
  const href = exportHref('commands', f, 'csv');
  const url = new URL(href, 'https://ztka.example');
  assert.equal(url.pathname, '/v1/audit/export');
  assert.equal(url.searchParams.get('format'), 'csv');
  assert.equal(url.searchParams.get('kind'), 'command');
  assert.equal(url.searchParams.get('q'), '<b>&x');
  assert.equal(url.searchParams.get('last'), '24h');
  assert.equal(new URL(exportHref('system', f, 'jsonl'), 'https://x').searchParams.get('kind'), 'system');
});

test('clicking a command leads to its API calls', () => {
  const state = auditStateFromSearch(new URLSearchParams('view=commands&last=1h&user=bob&q=get'));
  const base = {
    clientReported: false,
    at: Date.parse('2025-01-01T00:00:00Z'),
    user: 'bob',
    cluster: 'c',
    channel: 'cli',
    command: 'get ns',
  };
  const kubectl = drillDown(state, {
    ...base,
    source: 'kubectl',
    kubectlSession: 'ks-1',
    clientReported: true,
  });
  assert.ok(kubectl);
  assert.equal(kubectl.view, 'api');
  assert.equal(kubectl.filters.kubectlSession, 'ks-1');
  assert.equal(kubectl.filters.range, '1h');
  assert.equal(kubectl.filters.q, '');
  assert.equal(auditStateToSearch(kubectl).toString(), 'last=1h&kubectlSession=ks-1');
  const shell = drillDown(state, { ...base, source: 'shell', sessionId: 's-9' });
  assert.equal(shell?.filters.session, 's-9');
  assert.equal(drillDown(state, { ...base, source: 'shell' }), undefined);
});
