// The benchmark harness, at tiny sizes: every case must run against the real control plane, controller
// and agent, and print its figures. The figures themselves are not judged here (timed tests on a noisy
// machine would only flake); `npm run bench` measures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const main = fileURLToPath(new URL('./main.js', import.meta.url));

test('npm run bench -- --smoke runs every case and writes its results', { timeout: 240_000 }, async () => {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'ztka-bench-smoke-'));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [main, '--smoke', '--out', out], {
      timeout: 230_000,
    });
    for (const c of [
      'P1 small GET',
      'P2 LIST',
      'P3 16 concurrent clients',
      'P4 exec cat',
      'P5 5 agents',
      'P6 audit',
      'P7 first access',
      'P8 kubectl per call',
      'P10 uptime',
    ]) {
      assert.match(stdout, new RegExp(`^\\| ${c}`, 'm'), `${c} missing from the table`);
    }
    const files = await fs.readdir(out);
    assert.deepEqual(files.map((f) => path.extname(f)).sort(), ['.json', '.md', '.svg']);
    const json = JSON.parse(
      await fs.readFile(path.join(out, files.find((f) => f.endsWith('.json')) as string), 'utf8'),
    ) as {
      rows: { case: string; metric: string; values: Record<string, number> }[];
    };
    const p1 = json.rows.find((r) => r.case === 'P1 small GET');
    for (const name of ['direct', 'kubectl proxy', 'ztka', 'remotedialer'])
      assert.ok((p1?.values[name] ?? 0) > 0, `P1 has no figure for ${name}`);
    // What a Node.js hop pays to read the apiserver's answer: with node:https, and over bare TLS.
    for (const metric of ["a Node.js HTTPS client's CPU per MB", "a bare Node.js TLS reader's CPU per MB"]) {
      const row = json.rows.find((r) => r.case.startsWith('P2 LIST') && r.metric.startsWith(metric));
      assert.ok((row?.values['direct'] ?? 0) > 0, `P2 has no figure for ${metric}`);
    }
    // The side-by-side comparison with the peer, one line per case and measure.
    for (const line of ['P1 added p50 latency', 'P2 throughput', 'P3 requests/s', 'P4 throughput'])
      assert.match(stdout, new RegExp(`^ztka/remotedialer ${line} ratio \\d+\\.\\d+$`, 'm'), line);
  } finally {
    await fs.rm(out, { recursive: true, force: true });
  }
});
