import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiRecord } from '@ztka/protocol';
import { Command } from 'commander';
import { addFilterOptions, filterQuery, parseLimit, parseTime } from './audit-filters.js';
import { auditResource, auditTime, brokenTrailMessage, textCell } from './audit-format.js';
import { UsageError } from './errors.js';

test('text cells are one safe line, cut with an ellipsis at the limit', () => {
  assert.equal(
    textCell('kubectl get pods\u001b]0;owned\u0007\u001b[2J\r\n<b>x</b> \u009b31m \u202eexe.txt\u200b', 100),
    'kubectl get pods?]0;owned??[2J <b>x</b> ?31m ?exe.txt?',
  );
  const long = textCell(`kubectl apply -f - <<EOF\n${'a: b\n'.repeat(200_000)}EOF`, 40);
  assert.equal(long.length, 40);
  assert.ok(long.startsWith('kubectl apply -f - <<EOF a: b a: b'));
  assert.ok(long.endsWith('…'));
  // Only line breaks at the start of a huge value: nothing to show, but it was not empty.
  assert.equal(textCell('\n'.repeat(1_000_000) + 'rm -rf /', 40), '…');
  assert.equal(textCell('', 10), '-');
  assert.equal(textCell(null, 10), '-');
  assert.equal(textCell(' \n ', 10), '-');
  assert.equal(textCell('exactly10!', 10), 'exactly10!');
  assert.equal(textCell('eleven char', 10), 'eleven ch…');
  // A cut never leaves half a surrogate pair behind.
  const emoji = textCell(`abcdefgh${'😀'.repeat(5)}`, 10);
  assert.equal(emoji, 'abcdefgh…');
});

test('audit times are UTC to the second, from epoch ms or ISO', () => {
  const ms = Date.UTC(2025, 0, 31, 8, 0, 5, 678);
  assert.equal(auditTime(ms), '2025-01-31T08:00:05Z');
  assert.equal(auditTime(String(ms)), '2025-01-31T08:00:05Z');
  assert.equal(auditTime('2025-01-31T09:00:05.678+01:00'), '2025-01-31T08:00:05Z');
  assert.equal(auditTime('yesterday\u001b[2J'), 'yesterday?[2J');
  assert.equal(auditTime(undefined), '-');
  assert.equal(auditTime(1e300), '1e+300');
});

test('resources read namespace/resource/name/subresource, or the request URI', () => {
  const r = (
    objectRef: ApiRecord['objectRef'],
    requestURI = '/x',
  ): Pick<ApiRecord, 'objectRef' | 'requestURI'> => ({
    requestURI,
    ...(objectRef !== undefined ? { objectRef } : {}),
  });
  assert.equal(
    auditResource(r({ resource: 'pods', namespace: 'default', name: 'web-0' })),
    'default/pods/web-0',
  );
  assert.equal(
    auditResource(r({ resource: 'pods', namespace: 'team-a', name: 'db-0', subresource: 'exec' })),
    'team-a/pods/db-0/exec',
  );
  assert.equal(auditResource(r({ resource: 'pods', namespace: 'default' })), 'default/pods');
  assert.equal(auditResource(r({ resource: 'nodes', name: 'n1', apiVersion: 'v1' })), 'nodes/n1');
  assert.equal(auditResource(r(undefined, '/version')), '/version');
  assert.equal(auditResource(r({ apiVersion: 'v1' }, '/api/v1')), '/api/v1');
});

test('a broken trail names the first bad record', () => {
  assert.equal(
    brokenTrailMessage({
      ok: false,
      checked: 41,
      firstBad: { seq: 42, id: 'rec-42', problem: 'modified', message: 'record 42 was modified' },
    }),
    'audit trail broken at record 42 (rec-42): record 42 was modified',
  );
  assert.equal(
    brokenTrailMessage({ ok: false, firstBad: { seq: 7, problem: 'deleted' } }),
    'audit trail broken at record 7: deleted',
  );
  assert.equal(brokenTrailMessage({ ok: false }), 'audit trail broken');
});

test('times are ISO-8601 (UTC without a zone) or a duration ago', () => {
  const now = Date.UTC(2025, 0, 31, 12, 0, 0);
  assert.equal(parseTime('--since', '2h', now), '2025-01-31T10:00:00.000Z');
  assert.equal(parseTime('--since', '1d2h', now), '2025-01-30T10:00:00.000Z');
  assert.equal(parseTime('--since', '2025-01-30', now), '2025-01-30T00:00:00.000Z');
  assert.equal(parseTime('--since', '2025-01-30T09:15', now), '2025-01-30T09:15:00.000Z');
  assert.equal(parseTime('--since', '2025-01-30 09:15:30.5', now), '2025-01-30T09:15:30.500Z');
  assert.equal(parseTime('--since', '2025-01-30T09:15:00Z', now), '2025-01-30T09:15:00.000Z');
  assert.equal(parseTime('--since', '2025-01-30T09:15:00+01:00', now), '2025-01-30T08:15:00.000Z');
  assert.equal(parseTime('--since', '2025-01-30T09:15:00-0230', now), '2025-01-30T11:45:00.000Z');
  assert.equal(parseTime('--since', '2025-01-30T09:15:00+01', now), '2025-01-30T08:15:00.000Z');
  for (const bad of ['yesterday', '2025-13-01', '2025-01-30T25:00', '-2h', '']) {
    assert.throws(
      () => parseTime('--until', bad, now),
      (err) =>
        err instanceof UsageError &&
        err.message ===
          `--until: invalid time "${bad}": use an ISO-8601 time like 2025-01-31T08:00:00Z or a duration ago like 2h`,
      bad,
    );
  }
});

test('filters map to the query parameters of docs/api.md', () => {
  const now = Date.UTC(2025, 0, 31, 12, 0, 0);
  const program = addFilterOptions(new Command('x').exitOverride());
  program.parse(
    [
      '--last=7d',
      '--until=30m',
      '--project=lab',
      '--cluster=desktop',
      '--user=bob',
      '--namespace=default',
      '--resource=pods',
      '--verb=delete',
      '--status=4xx',
      '--channel=web-shell',
      '--session=s-1',
      '--kubectl-session=ks-9',
      '--search=rm -rf',
    ],
    { from: 'user' },
  );
  assert.deepEqual(filterQuery(program.opts(), now), {
    last: '7d',
    until: '2025-01-31T11:30:00.000Z',
    project: 'lab',
    cluster: 'desktop',
    user: 'bob',
    namespace: 'default',
    resource: 'pods',
    verb: 'delete',
    status: '4xx',
    channel: 'web-shell',
    session: 's-1',
    kubectlSession: 'ks-9',
    q: 'rm -rf',
  });
  assert.deepEqual(filterQuery({}, now), {});
  assert.throws(
    () => filterQuery({ last: '1h', since: '2h' }, now),
    /^UsageError: give --last or --since, not both$/,
  );
  assert.throws(
    () => filterQuery({ since: '1h', until: '2h' }, now),
    /--since \(2025-01-31T11:00:00.000Z\) is after --until \(2025-01-31T10:00:00.000Z\)/,
  );
});

test('--limit is a whole number from 1', () => {
  assert.equal(parseLimit('50'), 50);
  assert.equal(parseLimit(' 1200 '), 1200);
  for (const bad of ['0', '-1', '1.5', 'ten', '', '99999999999999999999']) {
    assert.throws(() => parseLimit(bad), /^UsageError: --limit: invalid number/, bad);
  }
});
