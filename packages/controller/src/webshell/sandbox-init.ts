// The first program inside a shell's sandbox (see sandbox.ts). The sandbox has no network but its own
// loopback, so kubectl cannot reach the controller, the host's services or anything else. This program
// gives it the one path it needs: it listens on the sandbox's loopback and relays each connection to the
// session's Unix socket (bound into the sandbox), where the controller serves the kube proxy and accepts
// only this shell's token. Only once it listens does it start kubectl, which keeps the terminal.
//
// It stands alone (node: modules only): it is copied into the sandbox as one file.
//
//   node sandbox-init.mjs <port> <unix socket> <kubectl> [kubectl args…]
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';

const [portArg, socketPath, kubectl, ...args] = process.argv.slice(2);
if (portArg === undefined || socketPath === undefined || kubectl === undefined) {
  process.stderr.write('ztka sandbox: usage: sandbox-init <port> <socket> <kubectl> [args…]\n');
  process.exit(125);
}

const relay = net.createServer((inbound) => {
  const outbound = net.connect(socketPath);
  const close = () => {
    inbound.destroy();
    outbound.destroy();
  };
  inbound.on('error', close);
  outbound.on('error', close);
  inbound.pipe(outbound);
  outbound.pipe(inbound);
});

relay.once('error', (err) => {
  process.stderr.write(`ztka sandbox: the relay could not start: ${err.message}\n`);
  process.exit(125);
});

relay.listen({ host: '127.0.0.1', port: Number(portArg), exclusive: true }, () => {
  // The terminal's Ctrl-C, Ctrl-\ and Ctrl-Z reach kubectl too (one process group): they are kubectl's.
  for (const sig of ['SIGINT', 'SIGQUIT', 'SIGTSTP'] as const) process.on(sig, () => undefined);
  const child = spawn(kubectl, args, { stdio: 'inherit' });
  for (const sig of ['SIGHUP', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.once('error', (err) => {
    process.stderr.write(`ztka sandbox: kubectl could not be started: ${err.message}\n`);
    process.exit(126);
  });
  child.once('exit', (code, signal) => {
    process.exit(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
  });
});
