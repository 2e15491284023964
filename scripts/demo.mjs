#!/usr/bin/env node
// `npm run demo`: starts the real local cluster and keeps it up until Ctrl-C. The controller and an agent
// registered through a real tunnel join it here as they are built.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testenv = (cmd, stdio) =>
  spawnSync(process.execPath, [path.join(root, 'testenv/dist/cli.js'), cmd], {
    cwd: root,
    stdio,
    encoding: 'utf8',
  });

const up = testenv('up', ['ignore', 'pipe', 'inherit']);
if (up.status !== 0) process.exit(up.status ?? 1);
const kubeconfig = up.stdout.trim();
console.log(`
ztka demo: a real Kubernetes control plane (kube-apiserver, etcd, controller-manager, scheduler and
kwok nodes) is running on 127.0.0.1.

  kubeconfig:  ${kubeconfig}
  try:         kubectl --kubeconfig ${path.relative(process.cwd(), kubeconfig)} get nodes

Press Ctrl-C to stop it.`);

const stop = () => {
  testenv('down', 'inherit');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
