#!/usr/bin/env node
// `npm run testenv -- up|down|status`: the real local control plane for tests and the demo.
import { down, status, up } from './controlplane.js';

const usage = `Usage: npm run testenv -- <up|down|status>

  up       build the binaries if needed, start etcd, kube-apiserver, kube-controller-manager,
           kube-scheduler and kwok on 127.0.0.1, and print the admin kubeconfig path
  down     stop exactly the processes up started and remove .testenv/
  status   say what runs`;

const log = (line: string) => console.error(`testenv: ${line}`);

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up': {
      const state = await up({ log });
      console.error(
        `testenv: kube-apiserver at ${state.apiserverUrl}; try: kubectl --kubeconfig ${state.kubeconfig} get nodes`,
      );
      console.log(state.kubeconfig);
      return 0;
    }
    case 'down': {
      const { stopped } = await down();
      log(stopped.length > 0 ? `stopped ${stopped.join(', ')}` : 'nothing was running');
      return 0;
    }
    case 'status': {
      const s = await status();
      if (!s.state) {
        console.log('not running');
        return 3;
      }
      console.log(`kube-apiserver ${s.state.apiserverUrl} ${s.apiserverReady ? 'ready' : 'NOT ready'}`);
      console.log(`kubeconfig ${s.state.kubeconfig}`);
      for (const c of s.components)
        console.log(
          `${c.name.padEnd(24)} pid ${String(c.pid).padEnd(8)} ${c.running ? 'running' : 'EXITED'}`,
        );
      return s.apiserverReady && s.components.every((c) => c.running) ? 0 : 1;
    }
    default:
      console.error(usage);
      return command === undefined || command === 'help' ? 0 : 2;
  }
}

main(process.argv[2]).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`testenv: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
