import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The repository root: testenv/dist/paths.js sits two levels below it. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where a running environment keeps its state (git-ignored); ZTKA_TESTENV_DIR moves it. */
export function stateDir(): string {
  return path.resolve(process.env['ZTKA_TESTENV_DIR'] ?? path.join(repoRoot, '.testenv'));
}

export const buildScript = path.join(repoRoot, 'testenv', 'build.sh');
