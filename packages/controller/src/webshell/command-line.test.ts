import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MAX_LINE_BYTES, parseCommandLine } from './command-line.js';
import { COMMANDS, GLOBAL_FLAGS, KUBECTL_INPUTS, KUBECTL_VERSIONS } from './kubectl-grammar.generated.js';
import {
  allowedCommands,
  commandProblem,
  flagPolicy,
  grammarFlags,
  outputFormatPolicy,
} from './kubectl-policy.js';

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ztka-cmdline-'));
fs.writeFileSync(path.join(workDir, 'x.yaml'), 'kind: List\n');
fs.mkdirSync(path.join(workDir, 'manifests'));
fs.writeFileSync(path.join(workDir, 'kubeconfig'), 'secret\n');
fs.symlinkSync('/etc', path.join(workDir, 'etc-link'));
after(() => fs.rmSync(workDir, { recursive: true, force: true }));

const SYNTAX = 'shell syntax is not supported: only one kubectl command per line';
const IDENTITY = 'is not allowed here: the shell reaches only this cluster as you';
const RELATIVE = "local paths must be relative to this shell's working directory";
const INSIDE = "local paths must stay inside this shell's working directory";
const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';

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
  // Formerly refused (every --template was checked as a path): with -o go-template it is the template
  // itself, which kubectl never opens.
  [
    'kubectl get pods -o go-template --template=/etc/t',
    ['get', 'pods', '-o', 'go-template', '--template=/etc/t'],
  ],
  // Formerly refused (--user was refused everywhere): the subject of a binding, not kubectl's identity.
  [
    'kubectl create rolebinding rb --clusterrole=view --user=alice',
    ['create', 'rolebinding', 'rb', '--clusterrole=view', '--user=alice'],
  ],
  // every way of giving a flag
  ['kubectl get ns -o=json', ['get', 'ns', '-o=json']],
  ['kubectl get ns -ojson', ['get', 'ns', '-ojson']],
  ['kubectl get ns --output=yaml', ['get', 'ns', '--output=yaml']],
  ['kubectl get ns --output yaml -o name', ['get', 'ns', '--output', 'yaml', '-o', 'name']],
  ['kubectl get ns --all_namespaces', ['get', 'ns', '--all_namespaces']],
  ['kubectl get pods -A --all-namespaces=false', ['get', 'pods', '-A', '--all-namespaces=false']],
  ['kubectl get pods -A=false', ['get', 'pods', '-A=false']],
  ['kubectl get pods -l app=web -l tier=db', ['get', 'pods', '-l', 'app=web', '-l', 'tier=db']],
  ['kubectl exec -itn team-a p -- sh', ['exec', '-itn', 'team-a', 'p', '--', 'sh']],
  ['kubectl exec -itnteam-a p -- sh', ['exec', '-itnteam-a', 'p', '--', 'sh']],
  ['kubectl logs -f -c app p --tail=10', ['logs', '-f', '-c', 'app', 'p', '--tail=10']],
  ['kubectl apply --dry-run -f x.yaml', ['apply', '--dry-run', '-f', 'x.yaml']],
  ['kubectl apply --dry-run=server -f x.yaml', ['apply', '--dry-run=server', '-f', 'x.yaml']],
  ['kubectl delete pod p --cascade', ['delete', 'pod', 'p', '--cascade']],
  ['kubectl -v6 --namespace=x get ns', ['-v6', '--namespace=x', 'get', 'ns']],
  // output formats, and the file forms inside the working directory
  [
    'kubectl get pods -o custom-columns=NAME:.metadata.name',
    ['get', 'pods', '-o', 'custom-columns=NAME:.metadata.name'],
  ],
  ['kubectl get pods -o jsonpath-as-json={.items}', ['get', 'pods', '-o', 'jsonpath-as-json={.items}']],
  ['kubectl get pods -o template={{.kind}}', ['get', 'pods', '-o', 'template={{.kind}}']],
  ['kubectl get pods -o templatefile=x.yaml', ['get', 'pods', '-o', 'templatefile=x.yaml']],
  ['kubectl get pods -ojsonpath-file=./x.yaml', ['get', 'pods', '-ojsonpath-file=./x.yaml']],
  ['kubectl get pods -o custom-columns-file=x.yaml', ['get', 'pods', '-o', 'custom-columns-file=x.yaml']],
  [
    'kubectl get pods -o go-template-file --template=manifests/../x.yaml',
    ['get', 'pods', '-o', 'go-template-file', '--template=manifests/../x.yaml'],
  ],
  ['kubectl explain pods --output=plaintext-openapiv2', ['explain', 'pods', '--output=plaintext-openapiv2']],
  ['kubectl auth whoami -o json', ['auth', 'whoami', '-o', 'json']],
  // local paths inside the working directory
  ['kubectl kustomize manifests -o out.yaml', ['kustomize', 'manifests', '-o', 'out.yaml']],
  ['kubectl kustomize . --output=manifests/out.yaml', ['kustomize', '.', '--output=manifests/out.yaml']],
  ['kubectl apply -f x.yaml,manifests/', ['apply', '-f', 'x.yaml,manifests/']],
  [
    'kubectl create secret generic s --from-file=a=x.yaml,b=manifests/../x.yaml',
    ['create', 'secret', 'generic', 's', '--from-file=a=x.yaml,b=manifests/../x.yaml'],
  ],
  ['kubectl create cm c --from-env-file=x.yaml', ['create', 'cm', 'c', '--from-env-file=x.yaml']],
  ['kubectl create cm c --from-literal=a=/etc/x', ['create', 'cm', 'c', '--from-literal=a=/etc/x']],
  ['kubectl cluster-info dump --output-directory=dump', ['cluster-info', 'dump', '--output-directory=dump']],
  ['kubectl patch deploy web --patch-file x.yaml', ['patch', 'deploy', 'web', '--patch-file', 'x.yaml']],
  // what runs inside a container is not kubectl's to read
  [
    'kubectl exec p -- kubectl --kubeconfig=/etc/k get -f /etc/x',
    ['exec', 'p', '--', 'kubectl', '--kubeconfig=/etc/k', 'get', '-f', '/etc/x'],
  ],
  // help, and commands that only print
  ['kubectl --help', ['--help']],
  ['kubectl get --help', ['get', '--help']],
  ['kubectl help get', ['help', 'get']],
  ['kubectl options', ['options']],
  ['kubectl completion bash', ['completion', 'bash']],
  ['kubectl rollout', ['rollout']],
  ['kubectl top po', ['top', 'po']],
  ['kubectl rollout status deploy/web --timeout=1m', ['rollout', 'status', 'deploy/web', '--timeout=1m']],
  [
    'kubectl cp --no-preserve --retries 3 pod:/x ./y',
    ['cp', '--no-preserve', '--retries', '3', 'pod:/x', './y'],
  ],
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
  ['kubectl get pods -o go-template-file=/etc/t', `-o go-template-file=/etc/t: ${RELATIVE}`],
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
  // the output-file attack: templatefile is kubectl's other name for go-template-file
  ['kubectl get ns -o templatefile=/etc/hostname', `-o templatefile=/etc/hostname: ${RELATIVE}`],
  ['kubectl get ns -o templatefile=/etc/shadow', `-o templatefile=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns --output=templatefile=/etc/shadow', `--output templatefile=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns --output templatefile=/etc/shadow', `--output templatefile=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -otemplatefile=/etc/shadow', `-o templatefile=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -o=templatefile=/etc/shadow', `-o templatefile=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -o=go-template-file=/etc/shadow', `-o go-template-file=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns --output go-template-file=/etc/shadow', `go-template-file=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -ojsonpath-file=/etc/shadow', `-o jsonpath-file=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -o custom-columns-file=/etc/shadow', `custom-columns-file=/etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -Ao templatefile=/etc/shadow', RELATIVE],
  ['kubectl get ns -Aotemplatefile=/etc/shadow', RELATIVE],
  ['kubectl events -o templatefile=/etc/shadow', RELATIVE],
  ['kubectl version -o templatefile=/etc/shadow', RELATIVE],
  ['kubectl get ns -o templatefile=../x', INSIDE],
  ['kubectl get ns -o templatefile=etc-link/shadow', INSIDE],
  ['kubectl get ns -o templatefile=~/x', RELATIVE],
  ['kubectl get ns -o templatefile=kubeconfig', "this shell's kubeconfig cannot be read"],
  ['kubectl get ns -o go-template-file --template=/etc/shadow', `--template /etc/shadow: ${RELATIVE}`],
  ['kubectl get ns --template=/etc/shadow -o go-template-file', `--template /etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -o templatefile --template /etc/shadow', `--template /etc/shadow: ${RELATIVE}`],
  ['kubectl get ns --template=/etc/shadow -otemplatefile', `--template /etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -o jsonpath-file --template=/etc/shadow', `--template /etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -o custom-columns-file --template=../x', `--template ../x: ${INSIDE}`],
  // the last -o wins in kubectl; every one is checked here
  ['kubectl get ns -o json --template=/etc/shadow -o templatefile', `--template /etc/shadow: ${RELATIVE}`],
  ['kubectl get ns -o templatefile=/etc/shadow -o json', RELATIVE],
  // output formats are an allow-list
  ['kubectl get ns -o TemplateFile=/etc/shadow', 'output format TemplateFile is not allowed here'],
  ['kubectl get ns -o kyaml', 'output format kyaml is not allowed here'],
  ['kubectl get ns -on', 'output format n is not allowed here'],
  ['kubectl get ns -o constructor', 'output format constructor is not allowed here'],
  // the file that kubectl kustomize writes
  ['kubectl kustomize . --output=/tmp/x', `--output /tmp/x: ${RELATIVE}`],
  ['kubectl kustomize . --output /tmp/x', `--output /tmp/x: ${RELATIVE}`],
  ['kubectl kustomize . -o /tmp/x', `-o /tmp/x: ${RELATIVE}`],
  ['kubectl kustomize . -o/tmp/x', `-o /tmp/x: ${RELATIVE}`],
  ['kubectl kustomize . -o=/tmp/x', `-o /tmp/x: ${RELATIVE}`],
  ['kubectl kustomize -o /tmp/x', `-o /tmp/x: ${RELATIVE}`],
  ['kubectl kustomize . -o ../x', INSIDE],
  ['kubectl kustomize . -o etc-link/x', INSIDE],
  ['kubectl kustomize . -o ~/x', RELATIVE],
  ['kubectl kustomize . -o kubeconfig', "this shell's kubeconfig cannot be read"],
  ['kubectl kustomize etc-link', INSIDE],
  ['kubectl kustomize -e X=1 .', '--env is not allowed here: it would run programs'],
  ['kubectl kustomize --helm-command /bin/sh .', '--helm-command is not allowed here'],
  ['kubectl kustomize --network .', '--network is not allowed here'],
  // --from-file, --from-env-file, -f and -k in every form
  ['kubectl create cm c --from-file=/etc/shadow', `--from-file /etc/shadow: ${RELATIVE}`],
  ['kubectl create cm c --from-file /etc/shadow', `--from-file /etc/shadow: ${RELATIVE}`],
  ['kubectl create cm c --from_file=/etc/shadow', `--from-file /etc/shadow: ${RELATIVE}`],
  ['kubectl create cm c --from-file=k=/etc/shadow', `--from-file /etc/shadow: ${RELATIVE}`],
  ['kubectl create cm c --from-file=x.yaml,/etc/shadow', `--from-file /etc/shadow: ${RELATIVE}`],
  ['kubectl create cm c --from-file=x.yaml,k=/etc/shadow', `--from-file /etc/shadow: ${RELATIVE}`],
  ['kubectl create cm c --from-file=\'"/etc/shadow"\'', 'quotes are not allowed in a list of paths'],
  ['kubectl create cm c --from-file=../x', INSIDE],
  ['kubectl create cm c --from-file=k=../x', INSIDE],
  ['kubectl create cm c --from-file=~/x', RELATIVE],
  ['kubectl create cm c --from-file=etc-link/shadow', INSIDE],
  ['kubectl create cm c --from-file=k=etc-link/shadow', INSIDE],
  ['kubectl create secret docker-registry d --from-file=/root/.docker/config.json', RELATIVE],
  ['kubectl create cm c --from-env-file=/etc/environment', RELATIVE],
  ['kubectl create cm c --from-env-file /etc/environment', RELATIVE],
  ['kubectl create cm c --from-env-file=x.yaml,/etc/environment', RELATIVE],
  ['kubectl create cm c --from-env-file=../x', INSIDE],
  ['kubectl create cm c --from-env-file=~/x', RELATIVE],
  ['kubectl create cm c --from-env-file=etc-link/environment', INSIDE],
  ['kubectl apply -f x.yaml,/etc/passwd', `-f /etc/passwd: ${RELATIVE}`],
  ['kubectl apply -f \'"/etc/passwd"\'', 'quotes are not allowed in a list of paths'],
  ['kubectl apply -Rf/etc', `-f /etc: ${RELATIVE}`],
  ['kubectl apply -Rf=/etc', `-f /etc: ${RELATIVE}`],
  ['kubectl apply --filename=etc-link', INSIDE],
  ['kubectl apply -f~/x', RELATIVE],
  ['kubectl exec -f /etc/passwd -- sh', RELATIVE],
  ['kubectl apply -k=/etc', `-k /etc: ${RELATIVE}`],
  ['kubectl apply -k/etc', `-k /etc: ${RELATIVE}`],
  ['kubectl apply -Rk ../x', INSIDE],
  ['kubectl apply --kustomize etc-link', INSIDE],
  ['kubectl apply -k~', RELATIVE],
  ['kubectl patch deploy web --patch-file ../p.yaml', INSIDE],
  ['kubectl patch deploy web --patch_file=etc-link/p.yaml', INSIDE],
  ['kubectl create secret tls t --cert=etc-link/ssl/cert.pem --key=k', INSIDE],
  ['kubectl debug p --custom ../c.json', INSIDE],
  // kubectl's own files and unknown flags
  ['kubectl get ns --log-file=/tmp/x', '--log-file is not allowed here'],
  ['kubectl get ns --log_file /tmp/x', '--log-file is not allowed here'],
  ['kubectl get ns --cache-dir /tmp/c', '--cache-dir is not allowed here'],
  ['kubectl get ns --cache_dir=/tmp/c', '--cache-dir is not allowed here'],
  ['kubectl --cache-dir=/tmp/c get ns', '--cache-dir is not allowed here'],
  ['kubectl get ns --profile-output /tmp/p', '--profile-output is not allowed here'],
  ['kubectl debug node/n --profile=general --profile-output=/tmp/p', '--profile-output is not allowed here'],
  ['kubectl get ns --foo', '--foo is not allowed here'],
  ['kubectl get ns --foo=bar', '--foo is not allowed here'],
  ['kubectl get ns -Z', '-Z is not allowed here'],
  ['kubectl --foo get ns', '--foo is not allowed here'],
  ['kubectl get ns --Server=https://evil', '--Server is not allowed here'],
  ['kubectl get ns --constructor', '--constructor is not allowed here'],
  ['kubectl get ns ---server=https://evil', 'bad flag syntax'],
  ['kubectl get ns -test.v', '-test.v is not allowed here'],
  ['kubectl get ns --patch-file=x.yaml', '--patch-file is not allowed here'],
  ['kubectl get ns --from-file=x.yaml', '--from-file is not allowed here'],
  ['kubectl get ns --output_directory=x', '--output-directory is not allowed here'],
  ['kubectl get ns -o', '-o needs a value'],
  ['kubectl create --edit -f x.yaml', '--edit is not allowed here: there is no editor'],
  ['kubectl apply edit-last-applied deploy/web', 'kubectl apply edit-last-applied is not available here'],
  // a flag of the parent is no flag of the subcommand (kubectl refuses it too)
  ['kubectl create --dry-run secret generic s --from-file=x.yaml', '--dry-run is not allowed here'],
  ['kubectl set --all env deploy/web A=1', '--all is not allowed here'],
  // flags hidden in short clusters
  ['kubectl get -As https://evil ns', `--server ${IDENTITY}`],
  ['kubectl get -Ashttps://evil ns', `--server ${IDENTITY}`],
  ['kubectl logs -fs https://evil p', `--server ${IDENTITY}`],
  ['kubectl exec -itZ p -- sh', '-Z is not allowed here'],
  ['kubectl exec -it= p -- sh', '-= is not allowed here'],
  ['kubectl apply -Rf/etc/passwd', `-f /etc/passwd: ${RELATIVE}`],
  ['kubectl get -Aof=json', 'output format f is not allowed here'],
  // a value that is optional is no value: `server` is an argument (here taken for a subcommand)
  ['kubectl apply --dry-run server -f x.yaml', 'kubectl apply server is not available here: unknown command'],
  // both local ends of kubectl cp, wherever the flags are
  ['kubectl cp -c app pod:/x /tmp/x', `kubectl cp /tmp/x: ${RELATIVE}`],
  ['kubectl cp --retries 3 /etc/shadow pod:/x', `kubectl cp /etc/shadow: ${RELATIVE}`],
  ['kubectl cp --retries=3 pod:/x etc-link/x', INSIDE],
  ['kubectl kustomize --output=out.yaml /etc', `kubectl kustomize /etc: ${RELATIVE}`],
  // kubectl cluster-info dump writes a directory tree
  ['kubectl cluster-info dump --output-directory=/tmp', `--output-directory /tmp: ${RELATIVE}`],
  ['kubectl cluster-info dump --output-directory /tmp', `--output-directory /tmp: ${RELATIVE}`],
  ['kubectl cluster-info dump --output_directory=/tmp', `--output-directory /tmp: ${RELATIVE}`],
  ['kubectl cluster-info dump --output-directory=..', INSIDE],
  ['kubectl cluster-info dump --output-directory=etc-link', INSIDE],
  // unknown subcommands (plugins among them)
  ['kubectl foo', 'kubectl foo is not available here'],
  ['kubectl -n x foo get', 'kubectl foo is not available here'],
  ['kubectl alpha', 'kubectl alpha is not available here'],
  ['kubectl __complete get ""', 'kubectl __complete is not available here'],
  ['kubectl constructor', 'kubectl constructor is not available here'],
  ['kubectl create foo', 'kubectl create foo is not available here'],
  ['kubectl create secret foo s', 'kubectl create secret foo is not available here'],
  ['kubectl rollout foo deploy/web', 'kubectl rollout foo is not available here'],
  ['kubectl top foo', 'kubectl top foo is not available here'],
  ['kubectl --help proxy', 'kubectl proxy is not available here'],
  ['kubectl config', 'kubectl config is not available here'],
  ['kubectl plugin', 'kubectl plugin is not available here'],
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

/** The flags (long names) that a kubectl help text lists, read as the generator reads them. */
function helpFlags(text: string): string[] {
  return [...text.matchAll(/^ {4}(?:-\S, )?--([A-Za-z0-9][\w-]*)=.*:$/gm)].map((m) => m[1] ?? '');
}

function kubectl(version: string, args: string[]): string {
  const bin = path.join(KUBECTL_DIR, `kubectl.${version}`);
  assert.ok(
    fs.existsSync(bin),
    `${bin} is missing: the kubectl versions this test reads are always installed`,
  );
  return execFileSync(bin, args, {
    env: { HOME: workDir, PATH: '/nonexistent', KUBECTL_KUBERC: 'true' },
  }).toString();
}

describe('kubectl grammar and policy', () => {
  test('the grammar is made from kubectl 1.27 to 1.33', () => {
    for (let minor = 27; minor <= 33; minor++)
      assert.ok(
        KUBECTL_VERSIONS.some((v) => v.startsWith(`v1.${minor}.`)),
        `v1.${minor} in ${KUBECTL_VERSIONS}`,
      );
  });

  test("the grammar has kubectl's output format aliases, subcommand aliases and flag kinds", () => {
    const formats = COMMANDS.get?.outputFormats ?? [];
    for (const f of [
      'templatefile',
      'go-template-file',
      'jsonpath-file',
      'custom-columns-file',
      'jsonpath-as-json',
    ])
      assert.ok(formats.includes(f), `kubectl get -o ${f}`);
    assert.ok(COMMANDS['create configmap']?.aliases.includes('cm'));
    assert.ok(COMMANDS['top pod']?.aliases.includes('po'));
    assert.deepEqual(COMMANDS.get?.flags.filename, { short: 'f', kind: 'value', list: true });
    assert.deepEqual(COMMANDS.logs?.flags.follow, { short: 'f', kind: 'bool' });
    // A value only as --dry-run=server: `--dry-run server` makes `server` an argument.
    assert.deepEqual(COMMANDS.apply?.flags['dry-run'], { kind: 'optional' });
    assert.deepEqual(GLOBAL_FLAGS.server, { short: 's', kind: 'value' });
    assert.deepEqual(GLOBAL_FLAGS.help, { short: 'h', kind: 'bool' });
  });

  test('every output format kubectl names is either allowed or read from a checked file', () => {
    const files = new Set<string>();
    for (const cmd of Object.values(COMMANDS))
      for (const format of cmd.outputFormats ?? []) {
        const policy = outputFormatPolicy(format);
        assert.notEqual(policy, 'refused', format);
        if (policy === 'file') files.add(format);
      }
    assert.deepEqual([...files].sort(), [
      'custom-columns-file',
      'go-template-file',
      'jsonpath-file',
      'templatefile',
    ]);
  });

  test('every kubectl command is allowed or refused with a reason, and every allowed one is in the grammar', () => {
    const allowed = allowedCommands();
    for (const cmdPath of Object.keys(COMMANDS)) {
      const problem = commandProblem(cmdPath === '' ? [] : cmdPath.split(' '));
      assert.ok(allowed.has(cmdPath) || problem?.includes(': '), `kubectl ${cmdPath}: ${problem}`);
    }
    for (const [cmdPath, flags] of allowed) {
      const cmd = COMMANDS[cmdPath];
      assert.ok(cmd, `kubectl ${cmdPath} is not in the grammar`);
      for (const flag of flags) assert.ok(cmd.flags[flag], `kubectl ${cmdPath} has no --${flag}`);
    }
  });

  test('the policy has no silent default: every flag of every allowed command is classified', () => {
    for (const cmdPath of allowedCommands().keys()) {
      const words = cmdPath === '' ? [] : cmdPath.split(' ');
      for (const { name, global } of grammarFlags(words))
        assert.ok(flagPolicy(words, name, global), `kubectl ${cmdPath} --${name} is not classified`);
    }
  });

  test("every flag of kubectl 1.33's get, apply, exec, logs and kustomize is classified", () => {
    const globals = helpFlags(kubectl('1.33', ['options']));
    assert.ok(globals.includes('kubeconfig') && globals.includes('kuberc'), globals.join(' '));
    for (const cmd of ['get', 'apply', 'exec', 'logs', 'kustomize']) {
      const own = helpFlags(kubectl('1.33', [cmd, '--help']));
      assert.ok(own.length > 0, `kubectl ${cmd} --help lists no flags`);
      for (const name of own)
        assert.ok(flagPolicy([cmd], name, false), `kubectl ${cmd} --${name} is not classified`);
      for (const name of globals.filter((g) => !own.includes(g)))
        assert.ok(flagPolicy([cmd], name, true), `kubectl ${cmd} --${name} (global) is not classified`);
    }
    // and a few by what they are
    assert.deepEqual(flagPolicy(['get'], 'output', false), { allowed: true, check: 'format' });
    assert.deepEqual(flagPolicy(['kustomize'], 'output', false), { allowed: true, check: 'path' });
    assert.deepEqual(flagPolicy(['apply'], 'filename', false), { allowed: true, check: 'paths' });
    assert.equal(flagPolicy(['kustomize'], 'enable-helm', false)?.allowed, false);
    assert.equal(flagPolicy(['get'], 'kubeconfig', true)?.allowed, false);
    assert.deepEqual(flagPolicy(['debug'], 'profile', false), { allowed: true, check: 'none' });
    assert.equal(flagPolicy(['get'], 'profile', true)?.allowed, false);
  });

  test('the committed grammar was made from exactly the installed kubectl binaries', () => {
    // The generator (scripts/gen-kubectl-grammar.mjs, a few minutes: it reads every command's help of every
    // version) is deterministic for given binaries, so the binaries' hashes stand for it here.
    const installed = fs.existsSync(KUBECTL_DIR)
      ? fs
          .readdirSync(KUBECTL_DIR)
          .filter((n) => /^kubectl\.1\.\d+$/.test(n))
          .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
      : [];
    assert.ok(installed.length > 0, `no kubectl.1.* in ${KUBECTL_DIR}: they are always installed here`);
    const hashes = installed.map(
      (n) =>
        `${n} ${createHash('sha256')
          .update(fs.readFileSync(path.join(KUBECTL_DIR, n)))
          .digest('hex')}`,
    );
    assert.deepEqual(
      hashes,
      KUBECTL_INPUTS,
      'the installed kubectl differs: run node packages/controller/scripts/gen-kubectl-grammar.mjs',
    );
  });
});

test('a line that would make the policy walk the filesystem at length is refused quickly', () => {
  const lines = [
    `kubectl apply -f ${Array.from({ length: 30_000 }, () => 'a').join(',')},/x`,
    `kubectl apply -f ${'a/b/c/d/e/f/../../../../../../'.repeat(2000)}`,
    `kubectl get ns ${Array.from({ length: 2000 }, () => '-f a').join(' ')}`,
  ];
  for (const line of lines) {
    const started = performance.now();
    const parsed = parseCommandLine(line.slice(0, MAX_LINE_BYTES), workDir);
    assert.equal(parsed.ok, false, line.slice(0, 60));
    assert.ok(
      performance.now() - started < 500,
      `${line.slice(0, 40)}… took ${performance.now() - started} ms`,
    );
  }
});
