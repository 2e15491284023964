// Accounts under attack, through the real controller, a real agent, the real apiserver and real kubectl:
// a password change or reset ends every credential and everything open with them; guessing passwords
// stays slow without anyone being able to keep the owner out; and group names do not leak to those who may
// not list groups.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  kubeconfigToken,
  namespace,
  startKubectl,
  testEnv,
  waitForOutput,
  Ztka,
  type TestEnv,
  type TestNamespace,
} from '@ztka/testenv';
import { sessionCookie, WebShell } from './support/web-shell.js';

const CLUSTER = 'desktop';

let env: TestEnv;
let z: Ztka;
let ns: TestNamespace;

before(async () => {
  env = await testEnv();
  z = await Ztka.start();
  await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
  ns = await namespace(env, 'account-security');
});
after(async () => {
  await ns?.cleanup();
  await z?.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request to the controller from a chosen loopback source address (any 127.0.0.x). */
function call(
  method: string,
  uri: string,
  opts: { from?: string; token?: string; body?: unknown } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${z.url}${uri}`,
      {
        method,
        ca: z.ca,
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body));
  });
}

const login = (username: string, password: string, from: string) =>
  call('POST', '/v1/auth/login', { from, body: { username, password, client: 'cli' } });

/** Polls until `check` holds, failing after `ms`: how "within a second" is measured. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > ms) assert.fail(`${what} did not happen within ${ms} ms`);
    await sleep(20);
  }
}

describe('a password change or reset ends everything the person held', () => {
  for (const by of ['the person', 'an admin'] as const) {
    test(`changed by ${by}: API key, kubeconfig credential and kube token refused, watch and shell ended`, async () => {
      const username = `pw-${by === 'the person' ? 'self' : 'reset'}@example.com`;
      const user = await z.createUser(username, [{ role: 'PROJECT_READ_ONLY', project: 'desktop' }]);
      const kubeconfig = await z.kubeconfig(CLUSTER, user.apiKey);
      const kubeconfigCredential = kubeconfigToken(await fs.readFile(kubeconfig, 'utf8'));
      const issued = await z.api<{ token: string }>('POST', '/v1/tokens', { cluster: CLUSTER }, user.apiKey);
      assert.equal(issued.status, 200);
      const kubeToken = issued.body.token;
      const kubeGet = (token: string) =>
        call('GET', `/k8s/clusters/${CLUSTER}/api/v1/namespaces/${ns.name}/configmaps`, { token });
      const whoami = () => call('GET', '/v1/auth/whoami', { token: user.apiKey });
      assert.equal((await whoami()).status, 200);
      assert.equal((await kubeGet(kubeconfigCredential)).status, 200);
      assert.equal((await kubeGet(kubeToken)).status, 200);

      // An open watch through the proxy, seen delivering an event, and an open browser shell at its prompt.
      const watch = startKubectl(['get', 'configmaps', '-n', ns.name, '-w', '-o', 'name'], { kubeconfig });
      const watchEnded = new Promise<number | null>((resolve) => watch.on('exit', resolve));
      const shell = await WebShell.open(z, await sessionCookie(z, username, user.password), CLUSTER);
      try {
        // The first may come with the watch's initial list; the second, made after it showed, comes
        // through the open watch.
        const tag = by === 'the person' ? 'self' : 'reset';
        await env.admin(['create', 'configmap', `before-${tag}`, '-n', ns.name]);
        await waitForOutput(watch, new RegExp(`configmap/before-${tag}`));
        await env.admin(['create', 'configmap', `during-${tag}`, '-n', ns.name]);
        await waitForOutput(watch, new RegExp(`configmap/during-${tag}`));
        await shell.ready();

        const newPassword = `new-${user.password}`;
        const changed =
          by === 'the person'
            ? await z.api(
                'PUT',
                `/v1/users/${username}/password`,
                { password: newPassword, currentPassword: user.password },
                user.apiKey,
              )
            : await z.api('PUT', `/v1/users/${username}/password`, { password: newPassword });
        assert.equal(changed.status, 204, JSON.stringify(changed.body));

        const ms = await within(1000, 'every credential refused', async () => {
          const answers = await Promise.all([whoami(), kubeGet(kubeconfigCredential), kubeGet(kubeToken)]);
          return answers.every((a) => a.status === 401);
        });
        assert.ok(ms < 1000);
        const watchCode = await Promise.race([watchEnded, sleep(5000).then(() => 'still running')]);
        assert.notEqual(watchCode, 'still running', 'the watch was not ended');
        await within(1000, 'the shell ended', async () => shell.exits.length > 0);
        assert.deepEqual(shell.exits, ['your access to this cluster has ended']);
        await shell.closed;

        // They log in again with the new password only; the admin who reset it keeps their own access.
        assert.equal((await login(username, user.password, '127.0.0.1')).status, 401);
        const again = await login(username, newPassword, '127.0.0.1');
        assert.equal(again.status, 200, again.body);
        const fresh = (JSON.parse(again.body) as { apiKey: { key: string } }).apiKey.key;
        assert.equal((await call('GET', '/v1/auth/whoami', { token: fresh })).status, 200);
        assert.equal((await z.api('GET', '/v1/auth/whoami')).status, 200);
      } finally {
        watch.kill();
        shell.close();
      }
    });
  }
});

describe('password guessing', () => {
  // The controller's numbers (auth/login-throttle.ts): three free failures per account, then a backoff
  // from 1 s that doubles, capped at 8 s for the account.
  const FREE_FAILURES = 3;
  /** The most checks the backoff lets through in `ms` once the free failures are spent. */
  function backoffSlots(ms: number): number {
    let slots = 0;
    for (let at = 0, wait = 1000; at <= ms; at += wait, wait = Math.min(wait * 2, 8000)) slots++;
    return slots;
  }

  /**
   * Wrong guesses at `username` from each address, one after another per address. Once every address has
   * been held (each has had the guesses it gets at once, so the attack is at its steady state), the owner
   * logs in; the attack goes on for at least `ms` and `attempts` attempts in all. Returns how many guesses
   * were checked (401) and refused unchecked (429), and how long the attack lasted.
   */
  async function attack(
    username: string,
    addresses: string[],
    { ms, attempts }: { ms: number; attempts: number },
    owner: () => Promise<void>,
  ): Promise<{ checked: number; throttled: number; other: number[]; ms: number }> {
    const tally = { checked: 0, throttled: 0, other: [] as number[] };
    const held = new Set<string>();
    const start = Date.now();
    let stop = false;
    const workers = addresses.map(async (from, w) => {
      for (let i = 0; !stop; i++) {
        const res = await login(username, `wrong-${w}-${i}`, from);
        if (res.status === 401) tally.checked++;
        else if (res.status === 429) {
          tally.throttled++;
          held.add(from);
          const retryAfter = Number(res.headers['retry-after']);
          assert.ok(retryAfter >= 1, `Retry-After ${String(res.headers['retry-after'])}`);
          // An attacker that paces itself a little (the machine is shared); the server holds it either way.
          await sleep(50);
        } else tally.other.push(res.status);
      }
    });
    try {
      // Each password check costs the controller the same (scrypt); on a loaded machine the first checks
      // of 20 fresh addresses take a while to get through, so "held" may take longer than the attack.
      await within(60_000, 'every attacking address held', async () => held.size === addresses.length);
      await owner();
      await within(120_000, `${attempts} attempts`, async () => tally.checked + tally.throttled >= attempts);
      const rest = ms - (Date.now() - start);
      if (rest > 0) await sleep(rest);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    return { ...tally, ms: Date.now() - start };
  }

  async function ownerGetsIn(username: string, password: string, from: string): Promise<void> {
    const started = Date.now();
    const res = await login(username, password, from);
    const took = Date.now() - started;
    assert.equal(res.status, 200, `the owner was refused: ${res.status} ${res.body}`);
    // Not held at all: one password check, which takes a second or so on a loaded test machine.
    assert.ok(took < 5000, `the owner waited ${took} ms`);
  }

  async function recordedFailures(username: string): Promise<number> {
    const res = await z.api<{ items: { event: string; user: string }[] }>(
      'GET',
      `/v1/audit/system?q=login_failed&user=${encodeURIComponent(username)}&limit=500`,
    );
    assert.equal(res.status, 200);
    return res.body.items.filter((e) => e.event === 'login_failed' && e.user === username).length;
  }

  test('from one address: the owner gets in at once, and the guesses checked follow the backoff', async (t) => {
    const owner = await z.createUser('guessed-one@example.com');
    const result = await attack(owner.username, ['127.0.0.50'], { ms: 6000, attempts: 100 }, () =>
      ownerGetsIn(owner.username, owner.password, '127.0.0.150'),
    );
    assert.deepEqual(result.other, []);
    assert.ok(result.throttled > 90, `only ${result.throttled} attempts were throttled`);
    const bound = FREE_FAILURES + backoffSlots(result.ms);
    t.diagnostic(
      `${result.checked} checked (bound ${bound}), ${result.throttled} throttled, ${result.ms} ms`,
    );
    assert.ok(
      result.checked <= bound,
      `${result.checked} guesses checked in ${result.ms} ms (bound ${bound})`,
    );
    // Every guess that was checked is in the audit trail; the throttled ones never reached a check.
    assert.equal(await recordedFailures(owner.username), result.checked);
  });

  test('from 20 addresses: the owner gets in at once, and the guesses checked stay bounded', async (t) => {
    const owner = await z.createUser('guessed-many@example.com');
    const addresses = Array.from({ length: 20 }, (_, i) => `127.0.0.${60 + i}`);
    const result = await attack(owner.username, addresses, { ms: 6000, attempts: 300 }, () =>
      ownerGetsIn(owner.username, owner.password, '127.0.0.151'),
    );
    assert.deepEqual(result.other, []);
    assert.ok(result.throttled > 250, `only ${result.throttled} attempts were throttled`);
    // Each address's first guess at the account is checked; after that they share the account's backoff.
    const bound = addresses.length + FREE_FAILURES + backoffSlots(result.ms);
    t.diagnostic(
      `${result.checked} checked (bound ${bound}), ${result.throttled} throttled, ${result.ms} ms`,
    );
    assert.ok(
      result.checked <= bound,
      `${result.checked} guesses checked in ${result.ms} ms (bound ${bound})`,
    );
    assert.equal(await recordedFailures(owner.username), result.checked);
  });
});

test('a group probe by someone who may not list groups: the same answer whether the group exists or not', async () => {
  const prober = await z.createUser('prober@example.com', [
    { role: 'PROJECT_READ_ONLY', project: 'desktop' },
  ]);
  for (const name of ['secret-team', 'probers'])
    assert.equal((await z.api('POST', '/v1/groups', { name })).status, 201);
  assert.equal((await z.api('PUT', '/v1/groups/probers/members/prober@example.com')).status, 204);
  const probe = (group: string, token = prober.apiKey) =>
    call('GET', `/v1/role-assignments?user=prober@example.com&group=${group}`, { token });

  const existing = await probe('secret-team');
  const missing = await probe('no-such-team');
  assert.deepEqual(
    [existing.status, existing.body],
    [missing.status, missing.body.replace('no-such-team', 'secret-team')],
  );
  assert.equal(missing.status, 404);
  // Their own group they know already (whoami names it): that one answers.
  assert.equal((await probe('probers')).status, 200);
  // An admin, who may list groups anyway, is told which exist.
  assert.equal((await probe('secret-team', z.adminKey)).status, 200);
  assert.equal((await probe('no-such-team', z.adminKey)).status, 404);
});
