// The peer of ztka's shape: Rancher's tunnel library (testenv/go/remotedialer), a server and an agent that
// dials out to it over a WebSocket, proxying the same apiserver with the same person's service-account
// token. Started beside ztka so that every case measures both in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { ensureRemotedialerPeer, type TestEnv } from '@ztka/testenv';

export interface Peer {
  /** The server's HTTPS base URL; its CA is the environment's. */
  url: string;
  pids: { server: number | undefined; agent: number | undefined };
  stop(): void;
}

/** Starts the peer's server and agent, and resolves once a request through the tunnel is answered. */
export async function startPeer(env: TestEnv, bearer: string, dir: string): Promise<Peer> {
  const binary = await ensureRemotedialerPeer();
  const agentToken = path.join(dir, 'peer-agent.token');
  const bearerFile = path.join(dir, 'peer-bearer.token');
  await fs.writeFile(agentToken, randomBytes(24).toString('hex'), { mode: 0o600 });
  await fs.writeFile(bearerFile, bearer, { mode: 0o600 });
  const pki = (f: string) => path.join(env.pkiDir, f);
  const children: ChildProcess[] = [];
  const stop = () => children.forEach((c) => c.kill());
  try {
    const server = spawn(binary, [
      'server',
      '--cert', pki('serving.crt'),
      '--key', pki('serving.key'),
      '--agent-token-file', agentToken,
      '--apiserver', env.apiserverUrl,
      '--apiserver-ca', pki('ca.crt'),
      '--bearer-file', bearerFile,
    ]); // prettier-ignore
    children.push(server);
    const address = await firstLine(server, /^listening on (\S+)$/m);
    const url = `https://${address}`;
    const agent = spawn(binary, [
      'agent',
      '--connect', `wss://${address}/connect`,
      '--server-ca', pki('ca.crt'),
      '--token-file', agentToken,
      '--allow', new URL(env.apiserverUrl).host,
    ]); // prettier-ignore
    children.push(agent);
    agent.stderr.resume();
    const ca = await fs.readFile(pki('ca.crt'));
    for (let tries = 0; ; tries++) {
      const status = await new Promise<number>((resolve) =>
        https
          .get(`${url}/version`, { ca }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', () => resolve(0)),
      );
      if (status === 200) break;
      if (tries > 100) throw new Error(`the remotedialer peer never served /version (last status ${status})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { url, pids: { server: server.pid, agent: agent.pid }, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

function firstLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = out.match(pattern);
      if (m?.[1]) resolve(m[1]);
    });
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => reject(new Error(`remotedialer-peer exited (${code}): ${err.slice(-2000)}`)));
  });
}
