import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MAX_LINE_BYTES, parseCommandLine } from './command-line.js';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-cmdline-'));
fs.writeFileSync(path.join(workDir, 'x.yaml'), 'kind: List\n');
fs.mkdirSync(path.join(workDir, 'manifests'));
fs.writeFileSync(path.join(workDir, 'kubeconfig'), 'secret\n');
fs.symlinkSync('/etc', path.join(workDir, 'etc-link'));
after(() => fs.rmSync(workDir, { recursive: true, force: true }));

const SYNTAX = 'shell syntax is not supported: only one kubectl command per line';
const IDENTITY = 'is not allowed here: the shell reaches only this cluster as you';

/** Allowed lines and the argv kubectl gets (after `kubectl`). */
const allowed: Array<[string, string[]]> = [
  ['kubectl', []],
  ['kubectl get ns', ['get', 'ns']],
  ['  kubectl   get\tns  ', ['get', 'ns']],
  ["kubectl get pods -l 'app in (web, api)'", ['get', 'pods', '-l', 'app in (web, api)']],
  ['kubectl annotate pod p "note=two words"', ['annotate', 'pod', 'p', 'note=two words']],
  ['kubectl label pod p a=b\\ c', ['label', 'pod', 'p', 'a=b c']],
  ["kubectl exec -it p -- sh -c 'echo hi | wc'", ['exec', '-it', 'p', '--', 'sh', '-c', 'echo hi | wc']],
  [
    'kubectl exec p -- curl -s --token abc http://svc',
    ['exec', 'p', '--', 'curl', '-s', '--token', 'abc', 'http://svc'],
  ],
  ['kubectl exec -i -t p -c app -- /bin/sh', ['exec', '-i', '-t', 'p', '-c', 'app', '--', '/bin/sh']],
  [
    'kubectl run t --image=busybox --rm -it --command -- sh -s',
    ['run', 't', '--image=busybox', '--rm', '-it', '--command', '--', 'sh', '-s'],
  ],
  [
    'kubectl debug node/n1 -it --image=busybox --profile=sysadmin',
    ['debug', 'node/n1', '-it', '--image=busybox', '--profile=sysadmin'],
  ],
  ['kubectl apply -f ./x.yaml', ['apply', '-f', './x.yaml']],
  ['kubectl apply -f x.yaml --dry-run=server', ['apply', '-f', 'x.yaml', '--dry-run=server']],
  ['kubectl apply -fx.yaml', ['apply', '-fx.yaml']],
  ['kubectl apply --filename=manifests/ -R', ['apply', '--filename=manifests/', '-R']],
  ['kubectl apply -f manifests/../x.yaml', ['apply', '-f', 'manifests/../x.yaml']],
  ['kubectl apply -f -', ['apply', '-f', '-']],
  ['kubectl apply -k .', ['apply', '-k', '.']],
  [
    'kubectl create configmap c --from-file=conf=./x.yaml',
    ['create', 'configmap', 'c', '--from-file=conf=./x.yaml'],
  ],
  ['kubectl cp pod:/etc/hosts ./hosts', ['cp', 'pod:/etc/hosts', './hosts']],
  ['kubectl cp ns/pod:/tmp/a b -c app', ['cp', 'ns/pod:/tmp/a', 'b', '-c', 'app']],
  ['kubectl cp ./x.yaml pod:/tmp/x.yaml', ['cp', './x.yaml', 'pod:/tmp/x.yaml']],
  ['kubectl logs -f deploy/web', ['logs', '-f', 'deploy/web']],
  ['kubectl logs -fp pod', ['logs', '-fp', 'pod']],
  ['kubectl -n kube-system get pods -o wide', ['-n', 'kube-system', 'get', 'pods', '-o', 'wide']],
  [
    'kubectl get pods -o jsonpath={.items[0].metadata.name}',
    ['get', 'pods', '-o', 'jsonpath={.items[0].metadata.name}'],
  ],
  [
    "kubectl get pods -o 'jsonpath={.items[*].metadata.name}'",
    ['get', 'pods', '-o', 'jsonpath={.items[*].metadata.name}'],
  ],
  [
    "kubectl get pods -o go-template --template='{{range .items}}{{.metadata.name}}{{end}}'",
    ['get', 'pods', '-o', 'go-template', '--template={{range .items}}{{.metadata.name}}{{end}}'],
  ],
  ['kubectl get pods -o go-template-file=./x.yaml', ['get', 'pods', '-o', 'go-template-file=./x.yaml']],
  [
    'kubectl patch deploy web -p \'{"spec":{"replicas":2}}\'',
    ['patch', 'deploy', 'web', '-p', '{"spec":{"replicas":2}}'],
  ],
  ['kubectl get --raw /k8s/clusters/dev/api', ['get', '--raw', '/k8s/clusters/dev/api']],
  [
    'kubectl get ns --disable-compression --request-timeout=5s -v=6',
    ['get', 'ns', '--disable-compression', '--request-timeout=5s', '-v=6'],
  ],
  ['kubectl auth can-i get pods --all-namespaces', ['auth', 'can-i', 'get', 'pods', '--all-namespaces']],
  ['kubectl describe cm config', ['describe', 'cm', 'config']],
  ['kubectl get pods proxy', ['get', 'pods', 'proxy']],
  ['kubectl version --client', ['version', '--client']],
  ['kubectl get pods -l app=ünïcode', ['get', 'pods', '-l', 'app=ünïcode']],
  // No expansion of any kind: variables stay literal (and there is no shell to run anything). Command
  // substitution, quoted or not, is refused below.
  ['kubectl get ns $HOME "$USER" ${PATH}', ['get', 'ns', '$HOME', '$USER', '$PATH']],
  ["kubectl get ns '$HOME'", ['get', 'ns', '$HOME']],
  ['kubectl get ns ~ ~root', ['get', 'ns', '~', '~root']],
];

/** Refused lines and (part of) the message. */
const refused: Array<[string, string]> = [
  // shell syntax
  ['kubectl get ns; kubectl get pods', SYNTAX],
  ['kubectl get ns ; ls', SYNTAX],
  ['kubectl get ns && ls', SYNTAX],
  ['kubectl get ns || ls', SYNTAX],
  ['kubectl get ns | grep x', SYNTAX],
  ['kubectl get ns |& cat', SYNTAX],
  ['kubectl get ns &', SYNTAX],
  ['kubectl get ns > out', SYNTAX],
  ['kubectl get ns >> out', SYNTAX],
  ['kubectl get ns 2>&1', SYNTAX],
  ['kubectl apply -f - < x.yaml', SYNTAX],
  ['kubectl apply -f - <<EOF', SYNTAX],
  ['kubectl apply -f <(cat x.yaml)', SYNTAX],
  ['(kubectl get ns)', SYNTAX],
  ['kubectl get $(id)', SYNTAX],
  ['kubectl get ns `id`', SYNTAX],
  ['kubectl get ns "$(id)"', SYNTAX],
  ["kubectl get ns '`id`'", SYNTAX],
  ['kubectl get pods *', SYNTAX],
  ['kubectl get pods p?d', SYNTAX],
  ['kubectl get pods # a comment', SYNTAX],
  // not kubectl
  ['ls', 'ls: only kubectl commands run here'],
  ['sh', 'sh: only kubectl commands run here'],
  ['bash -c "kubectl get ns"', 'only kubectl commands run here'],
  ['/usr/bin/kubectl get ns', 'only kubectl commands run here'],
  ['KUBECONFIG=/etc/k kubectl get ns', 'only kubectl commands run here'],
  ['"" kubectl', 'only kubectl commands run here'],
  ['kubectl-foo', 'only kubectl commands run here'],
  // flags that pick another server, credential or identity: every form
  ['kubectl get ns --kubeconfig=/etc/k', `--kubeconfig ${IDENTITY}`],
  ['kubectl get ns --kubeconfig /etc/k', `--kubeconfig ${IDENTITY}`],
  ['kubectl --kubeconfig=./x.yaml get ns', `--kubeconfig ${IDENTITY}`],
  ['kubectl get ns --server=https://evil', `--server ${IDENTITY}`],
  ['kubectl get ns --server https://evil', `--server ${IDENTITY}`],
  ['kubectl get ns -s https://evil', `--server ${IDENTITY}`],
  ['kubectl get ns -s=https://evil', `--server ${IDENTITY}`],
  ['kubectl get ns -shttps://evil', `--server ${IDENTITY}`],
  ['kubectl exec -its=https://evil p -- sh', `--server ${IDENTITY}`],
  ['kubectl -s https://evil get ns', `--server ${IDENTITY}`],
  ['kubectl get ns --token=abc', `--token ${IDENTITY}`],
  ['kubectl get ns --token abc', `--token ${IDENTITY}`],
  ['kubectl get ns --as=admin', `--as ${IDENTITY}`],
  ['kubectl get ns --as admin', `--as ${IDENTITY}`],
  ['kubectl get ns --as-group=system:masters', `--as-group ${IDENTITY}`],
  ['kubectl get ns --as_group=system:masters', `--as-group ${IDENTITY}`],
  ['kubectl get ns --as-uid=0', `--as-uid ${IDENTITY}`],
  ['kubectl get ns --username=u', `--username ${IDENTITY}`],
  ['kubectl get ns --password=p', `--password ${IDENTITY}`],
  ['kubectl get ns --user=other', `--user ${IDENTITY}`],
  ['kubectl get ns --cluster=other', `--cluster ${IDENTITY}`],
  ['kubectl get ns --context=other', `--context ${IDENTITY}`],
  ['kubectl get ns --client-certificate=c.pem', `--client-certificate ${IDENTITY}`],
  ['kubectl get ns --client-key=k.pem', `--client-key ${IDENTITY}`],
  ['kubectl get ns --client_key=k.pem', `--client-key ${IDENTITY}`],
  ['kubectl get ns --certificate-authority=ca.pem', `--certificate-authority ${IDENTITY}`],
  ['kubectl get ns --insecure-skip-tls-verify', `--insecure-skip-tls-verify ${IDENTITY}`],
  ['kubectl get ns --insecure-skip-tls-verify=true', `--insecure-skip-tls-verify ${IDENTITY}`],
  ['kubectl get ns --tls-server-name=evil', `--tls-server-name ${IDENTITY}`],
  ['kubectl get ns "--server=https://evil"', `--server ${IDENTITY}`],
  ["kubectl get ns --ser'ver'=https://evil", `--server ${IDENTITY}`],
  // after a `--` that is really a flag's value, flags are still flags
  ['kubectl get pods -l -- --server=https://evil', `--server ${IDENTITY}`],
  ['kubectl get pods --selector -- --token=abc', `--token ${IDENTITY}`],
  // kubectl's own files
  ['kubectl get ns --cache-dir=/tmp/c', '--cache-dir is not allowed here'],
  ['kubectl get ns --profile=cpu', '--profile is not allowed here'],
  ['kubectl get ns --profile-output=/tmp/p', '--profile-output is not allowed here'],
  ['kubectl get ns --kuberc=./x.yaml', '--kuberc is not allowed here'],
  // kustomize flags that run programs
  ['kubectl kustomize --enable-helm .', '--enable-helm is not allowed here'],
  ['kubectl kustomize --helm-command=/bin/sh .', '--helm-command is not allowed here'],
  ['kubectl kustomize --enable-alpha-plugins .', '--enable-alpha-plugins is not allowed here'],
  ['kubectl kustomize --load-restrictor=LoadRestrictionsNone .', '--load-restrictor is not allowed here'],
  ['kubectl kustomize --mount=type=bind,src=/,dst=/x .', '--mount is not allowed here'],
  // subcommands
  ['kubectl proxy', 'kubectl proxy is not available here'],
  ['kubectl proxy --port=0', 'kubectl proxy is not available here'],
  ['kubectl -n default proxy', 'kubectl proxy is not available here'],
  ['kubectl --namespace default proxy', 'kubectl proxy is not available here'],
  ['kubectl --address 0.0.0.0 proxy', 'kubectl proxy is not available here'],
  ['kubectl -n -- proxy', 'kubectl proxy is not available here'],
  ['kubectl "" proxy', 'kubectl proxy is not available here'],
  ['kubectl port-forward pod/p 8080:80', 'kubectl port-forward is not available here'],
  ['kubectl edit deploy web', 'kubectl edit is not available here'],
  ['kubectl config view', 'kubectl config is not available here'],
  ['kubectl config view --raw', 'kubectl config is not available here'],
  ['kubectl plugin list', 'kubectl plugin is not available here'],
  ['kubectl krew install x', 'kubectl krew is not available here'],
  // local files outside the working directory
  ['kubectl apply -f /etc/passwd', '-f /etc/passwd: local paths must be relative'],
  ['kubectl apply -f=/etc/passwd', '-f /etc/passwd: local paths must be relative'],
  ['kubectl apply -f/etc/passwd', '-f /etc/passwd: local paths must be relative'],
  ['kubectl apply --filename=/etc/passwd', '--filename /etc/passwd: local paths must be relative'],
  ['kubectl apply --filename /etc/passwd', '--filename /etc/passwd: local paths must be relative'],
  ['kubectl apply -Rf /etc', '-f /etc: local paths must be relative'],
  ['kubectl apply -f ../x', '-f ../x: local paths must stay inside'],
  ['kubectl apply -f manifests/../../x', 'local paths must stay inside'],
  ['kubectl apply -f ..', 'local paths must stay inside'],
  ['kubectl apply -f etc-link/passwd', 'local paths must stay inside'],
  ['kubectl apply -f etc-link/../x.yaml', 'local paths must stay inside'], // the kernel's `..` is /etc's parent
  ['kubectl cp pod:/x etc-link/x', 'local paths must stay inside'],
  ['kubectl apply -f ~/x.yaml', 'local paths must be relative'],
  ['kubectl apply -f ~root/x.yaml', 'local paths must be relative'],
  ['kubectl apply -f http://x', '-f http://x: remote files are not allowed'],
  ['kubectl apply -f https://example.com/x.yaml', 'remote files are not allowed'],
  ['kubectl apply -k /etc', '-k /etc: local paths must be relative'],
  ['kubectl apply --kustomize=../x', 'local paths must stay inside'],
  ['kubectl apply -k https://github.com/x/y', 'remote files are not allowed'],
  ['kubectl kustomize /etc', 'kubectl kustomize /etc: local paths must be relative'],
  ['kubectl kustomize https://github.com/x/y', 'remote files are not allowed'],
  [
    'kubectl create secret generic s --from-file=~/.ssh/id_rsa',
    '--from-file ~/.ssh/id_rsa: local paths must be relative',
  ],
  ['kubectl create secret generic s --from-file=key=/etc/shadow', 'local paths must be relative'],
  ['kubectl create secret generic s --from-file ../x', 'local paths must stay inside'],
  ['kubectl create secret generic s --from-env-file=/proc/self/environ', 'local paths must be relative'],
  ['kubectl create secret tls t --cert=/etc/tls.crt --key=k', 'local paths must be relative'],
  ['kubectl create secret tls t --cert=c --key=/etc/tls.key', 'local paths must be relative'],
  ['kubectl get pods -o go-template --template=/etc/t', 'local paths must be relative'],
  ['kubectl get pods -o go-template-file=/etc/t', '-o /etc/t: local paths must be relative'],
  ['kubectl get pods -o=jsonpath-file=../t', 'local paths must stay inside'],
  ['kubectl get pods --output=custom-columns-file=/etc/c', 'local paths must be relative'],
  ['kubectl get pods -ojsonpath-file=/etc/t', 'local paths must be relative'],
  ['kubectl cluster-info dump --output-directory=/tmp/dump', 'local paths must be relative'],
  ['kubectl patch deploy web --patch-file=/etc/p.yaml', 'local paths must be relative'],
  ['kubectl debug p --custom=/etc/c.json', 'local paths must be relative'],
  ['kubectl cp pod:/x /tmp/x', 'kubectl cp /tmp/x: local paths must be relative'],
  ['kubectl cp /etc/shadow pod:/tmp/x', 'kubectl cp /etc/shadow: local paths must be relative'],
  ['kubectl cp pod:/x ../x', 'local paths must stay inside'],
  ['kubectl cp pod:/x -- ../x', 'local paths must stay inside'],
  ['kubectl -n ns cp pod:/x ~/x', 'local paths must be relative'],
  // the session's own kubeconfig (its token) is not for reading
  ['kubectl apply -f kubeconfig', "this shell's kubeconfig cannot be read"],
  ['kubectl create secret generic s --from-file=./kubeconfig', "this shell's kubeconfig cannot be read"],
  ['kubectl cp ./kubeconfig pod:/tmp/k', "this shell's kubeconfig cannot be read"],
  // hostile input
  ['kubectl get ns\u0000', 'control characters are not allowed'],
  ['kubectl get ns\x1b[2J', 'control characters are not allowed'],
  ['kubectl get ns\r', 'control characters are not allowed'],
  ['kubectl get ns\nls', 'control characters are not allowed'],
  ['kubectl get ns \u009b', 'control characters are not allowed'],
  ['kubectl get ns \u202e', 'control characters are not allowed'],
  ["kubectl get $'\\x1b[31m'", 'control characters are not allowed'],
  ["$'\\x07'", 'control characters are not allowed'],
  ["kubectl get 'ns", 'unterminated quote'],
  ['kubectl get "ns', 'unterminated quote'],
  ['kubectl get "ns\\"', 'unterminated quote'],
  ['kubectl get ns \\', 'cannot end with a backslash'],
  ['kubectl get ${}', 'could not be read'],
  ['', 'empty command line'],
  [`kubectl get ${'x'.repeat(MAX_LINE_BYTES)}`, 'the command line is too long'],
];

describe('parseCommandLine', () => {
  for (const [line, args] of allowed) {
    test(`allows ${JSON.stringify(line)}`, () => {
      assert.deepEqual(parseCommandLine(line, workDir), { ok: true, args: ['kubectl', ...args] });
    });
  }

  for (const [line, message] of refused) {
    test(`refuses ${JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line)}`, () => {
      const result = parseCommandLine(line, workDir);
      assert.equal(result.ok, false, `allowed as ${JSON.stringify(result.ok && result.args)}`);
      if (result.ok) return;
      assert.ok(result.message.includes(message), result.message);
    });
  }

  test('a line of exactly 64 KiB is not too long', () => {
    const line = `kubectl get ${'x'.repeat(MAX_LINE_BYTES - 'kubectl get '.length)}`;
    assert.equal(Buffer.byteLength(line), MAX_LINE_BYTES);
    assert.equal(parseCommandLine(line, workDir).ok, true);
  });

  test('the work dir itself may be named, and only relative to itself', () => {
    assert.equal(parseCommandLine('kubectl apply -f .', workDir).ok, true);
    assert.equal(parseCommandLine(`kubectl apply -f ${workDir}/x.yaml`, workDir).ok, false);
  });

  test('messages never echo control characters back to the terminal', () => {
    for (const [line] of refused) {
      const result = parseCommandLine(line, workDir);
      const control = (ch: string) =>
        (ch.codePointAt(0) ?? 0) < 0x20 ||
        ((ch.codePointAt(0) ?? 0) >= 0x7f && (ch.codePointAt(0) ?? 0) <= 0x9f);
      if (!result.ok) assert.ok(![...result.message].some(control), JSON.stringify(result.message));
    }
  });
});
