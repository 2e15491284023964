import fs from 'node:fs/promises';
import path from 'node:path';

/** One process that `up` started; `down` stops exactly these, matched by pid and binary. */
export interface ComponentState {
  name: string;
  pid: number;
  binary: string;
  log: string;
}

/** What `up` records in `<stateDir>/state.json` for `status`, `down` and the test helper. */
export interface EnvState {
  version: 1;
  startedAt: string;
  binDir: string;
  kubeconfig: string;
  apiserverUrl: string;
  kubeletPort: number;
  /** ca.crt, admin.crt/key and the rest of pki.ts's files. */
  pkiDir: string;
  auditLog: string;
  podsDir: string;
  components: ComponentState[];
}

export function statePath(dir: string): string {
  return path.join(dir, 'state.json');
}

export async function readState(dir: string): Promise<EnvState | undefined> {
  let text: string;
  try {
    text = await fs.readFile(statePath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const state = JSON.parse(text) as EnvState;
  if (state.version !== 1) throw new Error(`${statePath(dir)} has an unknown format; run "testenv down"`);
  return state;
}

export async function writeState(dir: string, state: EnvState): Promise<void> {
  const tmp = `${statePath(dir)}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(state, null, 2) + '\n');
  await fs.rename(tmp, statePath(dir));
}
