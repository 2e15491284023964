// P9 at tiny sizes: 1, 2 and 3 real replicas on PostgreSQL behind haproxy must run and print their figures
// (not judged here: `npm run bench -- --cases P9` measures). Its own file, so it runs beside the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const main = fileURLToPath(new URL('./main.js', import.meta.url));

test(
  'npm run bench -- --smoke --cases P9 runs replicas behind haproxy and prints each row',
  { timeout: 280_000 },
  async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-bench-p9-'));
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [main, '--smoke', '--cases', 'P9', '--out', out],
        { timeout: 270_000 },
      );
      for (const row of [
        'P9 8 clients through haproxy',
        'P9 the peer hop (3 replicas)',
        'P9 5 agents through haproxy (3 replicas)',
      ])
        assert.match(stdout, new RegExp(row.replace(/[()]/g, '\\$&')), `${row} is missing:\n${stdout}`);
      assert.match(stdout, /agents per replica/);
      assert.doesNotMatch(stdout, /NaN/);
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  },
);
