import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZtkaError } from '@ztka/protocol';
import {
  POD_SECURITY_EXEMPT,
  POD_SECURITY_MARKER,
  labelNamespaces,
  podCreatingNamespaces,
  podSecurityLabels,
} from './pod-security.js';

const P = 'pod-security.kubernetes.io/';
const all = (level: string) => ({
  [`${P}enforce`]: level,
  [`${P}enforce-version`]: 'latest',
  [`${P}warn`]: level,
  [`${P}warn-version`]: 'latest',
  [`${P}audit`]: level,
  [`${P}audit-version`]: 'latest',
  [POD_SECURITY_MARKER]: level,
});

test('an unlabelled namespace gets enforce, warn and audit at the level, at version latest', () => {
  assert.deepEqual(podSecurityLabels(undefined, 'restricted'), all('restricted'));
  assert.deepEqual(podSecurityLabels({ team: 'a' }, 'baseline'), all('baseline'));
});

test('a weaker label is raised, with its version; an equal or stricter one is left as it is', () => {
  assert.deepEqual(
    podSecurityLabels(
      { [`${P}enforce`]: 'baseline', [`${P}enforce-version`]: 'v1.25', [`${P}warn`]: 'privileged' },
      'restricted',
    ),
    all('restricted'),
  );
  // A cluster admin's restricted enforce (and its pinned version) stays; only the missing modes are added.
  assert.deepEqual(
    podSecurityLabels({ [`${P}enforce`]: 'restricted', [`${P}enforce-version`]: 'v1.30' }, 'baseline'),
    {
      [`${P}warn`]: 'baseline',
      [`${P}warn-version`]: 'latest',
      [`${P}audit`]: 'baseline',
      [`${P}audit-version`]: 'latest',
      [POD_SECURITY_MARKER]: 'baseline',
    },
  );
  const done = { [`${P}enforce`]: 'restricted', [`${P}warn`]: 'restricted', [`${P}audit`]: 'baseline' };
  assert.equal(podSecurityLabels(done, 'baseline'), undefined);
  assert.deepEqual(podSecurityLabels(done, 'restricted'), {
    [`${P}audit`]: 'restricted',
    [`${P}audit-version`]: 'latest',
    [POD_SECURITY_MARKER]: 'restricted',
  });
});

test('an invalid enforce level stays (the apiserver reads it as restricted); invalid warn and audit are raised', () => {
  const labels = { [`${P}enforce`]: 'Restricted', [`${P}warn`]: 'bogus', [`${P}audit`]: '' };
  const added = podSecurityLabels(labels, 'restricted');
  assert.equal(added?.[`${P}enforce`], undefined);
  assert.equal(added?.[`${P}warn`], 'restricted');
  assert.equal(added?.[`${P}audit`], 'restricted');
});

test('a namespace a cluster admin exempted is left as it is', () => {
  assert.equal(podSecurityLabels({ [POD_SECURITY_MARKER]: POD_SECURITY_EXEMPT }, 'restricted'), undefined);
  assert.equal(
    podSecurityLabels({ [POD_SECURITY_MARKER]: 'exempt', [`${P}enforce`]: 'privileged' }, 'baseline'),
    undefined,
  );
});

test('only the namespaces bound to admin are labelled: view creates no pods, cluster roles name none', () => {
  assert.deepEqual(
    podCreatingNamespaces([
      { clusterRole: 'admin', namespace: 'a' },
      { clusterRole: 'view', namespace: 'b' },
      { clusterRole: 'cluster-admin' },
      { clusterRole: 'admin', namespace: 'c' },
    ]),
    ['a', 'c'],
  );
});

/** A fake apiserver holding namespaces; `answer` may override any call. */
function fakeApi(
  namespaces: Record<string, Record<string, string>>,
  answer?: (method: string, ns: string, n: number) => { status: number; text: string } | undefined,
) {
  const calls: { method: string; uri: string; body?: object }[] = [];
  const versions: Record<string, number> = {};
  const call = async (method: string, uri: string, body?: object) => {
    calls.push({ method, uri, ...(body ? { body } : {}) });
    const ns = decodeURIComponent(uri.split('/').at(-1) ?? '');
    const overridden = answer?.(method, ns, calls.length);
    if (overridden) return overridden;
    const labels = namespaces[ns];
    if (!labels) return { status: 404, text: JSON.stringify({ message: `namespaces "${ns}" not found` }) };
    const rv = String(versions[ns] ?? 1);
    if (method === 'GET')
      return { status: 200, text: JSON.stringify({ metadata: { name: ns, resourceVersion: rv, labels } }) };
    const patch = body as { metadata: { resourceVersion?: string; labels: Record<string, string> } };
    if (patch.metadata.resourceVersion !== rv) return { status: 409, text: '{"message":"conflict"}' };
    Object.assign(labels, patch.metadata.labels);
    versions[ns] = Number(rv) + 1;
    return { status: 200, text: '{}' };
  };
  return { call, calls };
}

test('labelNamespaces patches each namespace that needs it onto the version it read, and skips the rest', async () => {
  const namespaces = { a: {}, b: all('restricted') };
  const api = fakeApi(namespaces);
  await labelNamespaces(api.call, ['a', 'b'], 'restricted');
  assert.deepEqual(namespaces.a, all('restricted'));
  const patches = api.calls.filter((c) => c.method === 'PATCH');
  assert.deepEqual(
    patches.map((c) => c.uri),
    ['/api/v1/namespaces/a'],
  );
  assert.deepEqual(patches[0]?.body, { metadata: { resourceVersion: '1', labels: all('restricted') } });
});

test('a namespace changed between read and patch is read again, and a stricter label set meanwhile kept', async () => {
  const namespaces: Record<string, Record<string, string>> = { a: {} };
  let raced = false;
  const api = fakeApi(namespaces, (method, ns) => {
    if (method === 'PATCH' && !raced) {
      raced = true;
      // A cluster admin labels it restricted just before the agent's patch arrives.
      namespaces[ns] = { [`${P}enforce`]: 'restricted' };
      return { status: 409, text: '{"message":"the object has been modified"}' };
    }
    return undefined;
  });
  await labelNamespaces(api.call, ['a'], 'baseline');
  assert.equal(namespaces['a']?.[`${P}enforce`], 'restricted');
  assert.equal(namespaces['a']?.[`${P}warn`], 'baseline');
});

test('a namespace that cannot be labelled fails with a Forbidden that names it and why', async () => {
  const rbac = fakeApi({ a: {} }, (method) =>
    method === 'PATCH'
      ? {
          status: 403,
          text: JSON.stringify({
            message:
              'namespaces "a" is forbidden: User "system:serviceaccount:ztka-system:ztka-agent" cannot patch resource "namespaces"',
          }),
        }
      : undefined,
  );
  await assert.rejects(labelNamespaces(rbac.call, ['a'], 'restricted'), (err: unknown) => {
    assert.ok(err instanceof ZtkaError);
    assert.equal(err.status, 403);
    assert.match(err.message, /requires Pod Security "restricted"/);
    assert.match(err.message, /could not label the namespace "a": 403 namespaces "a" is forbidden/);
    assert.match(err.message, /apply this cluster's current bootstrap manifest/);
    return true;
  });

  await assert.rejects(
    labelNamespaces(fakeApi({}).call, ['gone'], 'baseline'),
    /"gone": 404 namespaces "gone" not found/,
  );

  const down = async () => {
    throw new Error('connect ECONNREFUSED');
  };
  await assert.rejects(labelNamespaces(down, ['a'], 'baseline'), (err: unknown) => {
    assert.ok(err instanceof ZtkaError);
    assert.match(err.message, /could not label the namespace "a": connect ECONNREFUSED/);
    return true;
  });

  // Conflicts that never end are given up on, not retried forever.
  const busy = fakeApi({ a: {} }, (method) => (method === 'PATCH' ? { status: 409, text: '{}' } : undefined));
  await assert.rejects(labelNamespaces(busy.call, ['a'], 'baseline'), /"a": 409/);
  assert.equal(busy.calls.filter((c) => c.method === 'PATCH').length, 3);
});
