// The browser shell attacked as a read-only person and as an org admin would: every way of making kubectl
// read or write host files, use the shell's token elsewhere, or exhaust the controller. Real controllers
// (one running kubectl 1.27, one 1.33), the real sandbox, the real cluster. Each attack must be refused or
// see nothing, and the shell must keep working.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { kubectlPath, testEnv, Ztka, type TestEnv } from '@ztka/testenv';
import { sessionCookie, WebShell } from './support/web-shell.js';

const CLUSTER = 'desktop';
let env: TestEnv;

before(async () => {
  env = await testEnv();
});

/** Secrets of the controller's host that no shell may ever show. */
async function hostSecrets(z: Ztka): Promise<string[]> {
  const tls = path.join(z.dir, 'controller', 'tls');
  const keys = (await fs.readdir(tls)).filter((f) => f.endsWith('.key'));
  const keyBodies = await Promise.all(keys.map((f) => fs.readFile(path.join(tls, f), 'utf8')));
  const shadow = (await fs.readFile('/etc/shadow', 'utf8')).split('\n')[0] ?? '';
  return [
    z.adminPassword,
    shadow,
    'ZTKA_ADMIN_PASSWORD',
    ...keyBodies.map((k) => k.split('\n')[1] ?? ''), // a line of each private key's body
  ].filter((s) => s.length >= 8);
}

/** The kube tokens in every open shell's kubeconfig on this host (as a leak would show them). */
async function shellTokens(): Promise<string[]> {
  const tokens: string[] = [];
  for (const dir of await fs.readdir('/tmp')) {
    if (!dir.startsWith('ztka-shell-')) continue;
    const text = await fs.readFile(path.join('/tmp', dir, 'run', 'kubeconfig'), 'utf8').catch(() => '');
    const m = /token: (\S+)/.exec(text);
    if (m?.[1]) tokens.push(m[1]);
  }
  return tokens;
}

function kubeGet(z: Ztka, token: string, uri: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${z.url}/k8s/clusters/${CLUSTER}${uri}`,
      { ca: z.ca, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

for (const version of ['1.27', '1.33'] as const) {
  describe(`the browser shell with kubectl ${version}, attacked`, () => {
    let z: Ztka;
    let viewer: { username: string; password: string };
    let secrets: string[];
    const marker = `/tmp/ztka-shell-escape-${process.pid}-${version.replace('.', '')}`;

    before(async () => {
      z = await Ztka.start({
        env: {
          ZTKA_KUBECTL_PATH: kubectlPath(version),
          ZTKA_SHELL_MAX_PER_USER: '3',
          ZTKA_SHELL_MAX_TOTAL: '5',
          ZTKA_SHELL_MEMORY_MB: '256',
          // Room in the session directory for a file larger than the shell's memory (the memory test).
          ZTKA_SHELL_FILE_MB: '400',
        },
      });
      await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
      viewer = await z.createUser('viewer@example.com', [{ role: 'PROJECT_READ_ONLY', project: 'desktop' }]);
      secrets = await hostSecrets(z);
    });
    after(async () => {
      await z?.stop();
    });

    const open = async (who: 'viewer' | 'admin'): Promise<WebShell> => {
      const [username, password] =
        who === 'admin' ? ['admin', z.adminPassword] : [viewer.username, viewer.password];
      // A shell just closed counts until its sandbox is cleaned up: a moment, longer on a loaded machine.
      for (let attempt = 0; ; attempt++) {
        const shell = await WebShell.open(z, await sessionCookie(z, username, password), CLUSTER);
        await shell.waitFor(/\$ $|^ztka: /m);
        const full = /^ztka: (you have \d+ shells open|this controller runs as many shells as it can)/;
        if (!full.test(shell.output) || attempt >= 60) {
          await shell.ready();
          return shell;
        }
        await shell.closed;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };

    for (const who of ['viewer', 'admin'] as const) {
      test(`as ${who}: no flag form, alias or path reads a host file`, async () => {
        const shell = await open(who);
        try {
          const pid = z.controllerPid;
          const data = path.join(z.dir, 'controller');
          const key = path.join(data, 'tls', 'ca.key');
          const attacks = [
            'kubectl get ns -o templatefile=/etc/shadow',
            'kubectl get ns --output=templatefile=/etc/shadow',
            'kubectl get ns --output templatefile=/etc/shadow',
            'kubectl get ns -otemplatefile=/etc/shadow',
            'kubectl get ns -o=templatefile=/etc/shadow',
            'kubectl get ns -o go-template-file=/etc/shadow',
            'kubectl get ns -ogo-template-file=/etc/shadow',
            'kubectl get ns -o go-template-file --template=/etc/shadow',
            'kubectl get ns -o templatefile --template /etc/shadow',
            `kubectl get ns -o jsonpath-file=/proc/${pid}/environ`,
            'kubectl get ns -o jsonpath-file=/proc/1/environ',
            `kubectl get ns -o custom-columns-file=${key}`,
            `kubectl get ns --output_=templatefile=${key}`,
            `kubectl create configmap x --dry-run=client -o yaml --from-file=${key}`,
            `kubectl create configmap x --dry-run=client -o yaml --from-file=k=${key}`,
            `kubectl create configmap x --dry-run=client -o yaml --from-file ${data}`,
            `kubectl create configmap x --dry-run=client -o yaml --from-env-file=/proc/${pid}/environ`,
            'kubectl create secret generic x --dry-run=client -o yaml --from-file=/run/ztka/kubeconfig',
            'kubectl create secret generic x --dry-run=client -o yaml --from-file=/etc/shadow',
            'kubectl apply --dry-run=client -f /etc/shadow',
            `kubectl apply --dry-run=client -f=${key}`,
            `kubectl apply --dry-run=client -f${key}`,
            `kubectl apply --dry-run=client --filename=${data} -R`,
            `kubectl apply --dry-run=client -k ${data}`,
            `kubectl kustomize ${data}`,
            'kubectl apply --dry-run=client -f ../../../etc/shadow',
            'kubectl apply --dry-run=client -f ~root/.bashrc',
          ];
          for (const line of attacks) {
            const out = await shell.run(line);
            for (const secret of secrets) assert.ok(!out.includes(secret), `${line} showed a host secret`);
            assert.doesNotMatch(out, /^root:/m, `${line} showed /etc/shadow`);
          }
          // The shell still works.
          assert.match(await shell.run('kubectl get ns default'), /default\s+Active/);
          // Refused lines are on record, as refused and why, beside the ones that ran.
          const username = who === 'admin' ? 'admin' : viewer.username;
          const view = await z.api<{ items: { user: string; command: string; refused?: string }[] }>(
            'GET',
            `/v1/audit/commands?limit=500`,
          );
          const mine = view.body.items.filter((c) => c.user === username);
          const refusal = mine.find((c) => c.command === 'kubectl get ns -o templatefile=/etc/shadow');
          assert.match(refusal?.refused ?? '', /templatefile/, JSON.stringify(refusal));
          const ran = mine.find((c) => c.command === 'kubectl get ns default');
          assert.ok(ran && ran.refused === undefined, JSON.stringify(ran));
        } finally {
          shell.close();
        }
      });

      test(`as ${who}: nothing is written outside the session directory`, async () => {
        const shell = await open(who);
        try {
          const attacks = [
            `kubectl kustomize . --output=${marker}`,
            `kubectl kustomize . -o ${marker}`,
            `kubectl kustomize . -o${marker}`,
            `kubectl kustomize . --output ${marker}`,
            `kubectl cp default/nothing:/etc/hosts ${marker}`,
            `kubectl get ns --log-file=${marker}`,
            `kubectl get ns --log_file=${marker} --logtostderr=false`,
            `kubectl get ns --cache-dir=${marker}`,
            `kubectl cluster-info dump --output-directory=${marker}`,
            `kubectl get ns --profile=cpu --profile-output=${marker}`,
          ];
          for (const line of attacks) {
            await shell.run(line);
            await assert.rejects(fs.stat(marker), { code: 'ENOENT' }, `${line} wrote ${marker}`);
          }
          assert.match(await shell.run('kubectl get ns default'), /default\s+Active/);
        } finally {
          shell.close();
        }
      });
    }

    test("the shell's token works only inside that shell", async () => {
      const before = new Set(await shellTokens());
      const shell = await open('admin');
      try {
        assert.match(await shell.run('kubectl get ns default'), /default\s+Active/);
        const tokens = (await shellTokens()).filter((t) => !before.has(t));
        assert.equal(tokens.length, 1, 'the new shell has one kube token');
        // Leaked out of the shell (printed, uploaded, copied off the host), it opens nothing.
        assert.equal(await kubeGet(z, tokens[0] ?? '', '/api/v1/namespaces'), 401);
        assert.equal(await kubeGet(z, tokens[0] ?? '', '/api'), 401);
      } finally {
        shell.close();
      }
    });

    test('at most 3 shells per person and 5 per controller, each refusal says why', async () => {
      const shells: WebShell[] = [];
      try {
        for (let i = 0; i < 3; i++) shells.push(await open('viewer'));
        const fourth = await WebShell.open(
          z,
          await sessionCookie(z, viewer.username, viewer.password),
          CLUSTER,
        );
        await fourth.closed;
        assert.match(fourth.output, /^ztka: you have 3 shells open, the most allowed/);
        for (let i = 0; i < 2; i++) shells.push(await open('admin'));
        const sixth = await WebShell.open(z, await sessionCookie(z, 'admin', z.adminPassword), CLUSTER);
        await sixth.closed;
        assert.match(sixth.output, /^ztka: this controller runs as many shells as it can/);
        // Closing one makes room, and the shells that are open keep working.
        shells.shift()?.close();
        await new Promise((resolve) => setTimeout(resolve, 500));
        shells.push(await open('viewer'));
        assert.match(await (shells.at(-1) as WebShell).run('kubectl get ns default'), /default\s+Active/);
      } finally {
        for (const s of shells) s.close();
      }
    });

    if (version === '1.33') {
      test('memory beyond the shell limit ends the command, not the shell', async () => {
        const earlier = new Set(await fs.readdir('/tmp'));
        const shell = await open('viewer');
        try {
          // A file in the session directory, as `kubectl cp` would bring one: kubectl holds it all. Other
          // tests run shells too: each new directory gets a file naming it, and this shell's kubectl says
          // which one it reads.
          const fresh = (await fs.readdir('/tmp')).filter(
            (d) => d.startsWith('ztka-shell-') && !earlier.has(d),
          );
          for (const d of fresh)
            await fs.writeFile(path.join('/tmp', d, 'home', 'which.txt'), d).catch(() => undefined);
          const which = await shell.run(
            'kubectl create configmap which --dry-run=client -o yaml --from-file=which.txt',
          );
          const dir = fresh.find((d) => which.includes(d));
          assert.ok(dir, "the shell's session directory");
          const home = path.join('/tmp', dir, 'home');
          const st = await fs.stat(home);
          await fs.writeFile(path.join(home, 'big.txt'), Buffer.alloc(300 << 20, 'a'));
          await fs.chown(path.join(home, 'big.txt'), st.uid, st.gid);
          const out = await shell.run(
            'kubectl create configmap big --dry-run=client -o yaml --from-file=big.txt',
            120_000,
          );
          assert.match(out, /\[exit (137|9)\]|Killed|out of memory/i, out.slice(-500));
          assert.match(await shell.run('kubectl get ns default'), /default\s+Active/);
        } finally {
          shell.close();
        }
      });
    }
  });
}

describe('a controller without the sandbox tool', () => {
  test('refuses every shell with a clear message and runs nothing', async () => {
    const z = await Ztka.start({ env: { ZTKA_SHELL_BWRAP_PATH: '/nonexistent/bwrap' } });
    try {
      await z.connectCluster(CLUSTER, env.kubeconfig, 'desktop');
      const shell = await WebShell.open(z, await sessionCookie(z, 'admin', z.adminPassword), CLUSTER);
      await shell.closed;
      assert.match(
        shell.output,
        /^ztka: the browser shell is not available on this controller: \/nonexistent\/bwrap is missing/,
      );
    } finally {
      await z.stop();
    }
  });
});
