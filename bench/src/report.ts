import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Row } from './cases.js';

const COLUMNS = [
  'direct',
  'direct as JIT SA',
  'kubectl proxy',
  'ztka',
  'remotedialer',
  'ztka controller',
  'ztka agent',
  'ztka errors',
  'remotedialer server',
  'remotedialer agent',
  // P10: fresh and after its uptime's requests.
  'ztka fresh',
  'ztka aged',
  'remotedialer fresh',
  'remotedialer aged',
  // P9: replica counts, where a request enters, and how agents spread.
  '1 replica',
  '2 replicas',
  '3 replicas',
  'at the holder',
  'through a peer',
  'fewest',
  'most',
];

function fmt(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '';
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** The results as a Markdown table: a line per metric, a column per target, then ratio and goal. */
export function table(rows: readonly Row[]): string {
  const used = COLUMNS.filter((c) => rows.some((r) => r.values[c] !== undefined));
  const head = ['case', 'metric', 'unit', ...used, 'ztka ratio', 'goal', 'met'];
  const lines = rows.map((r) => [
    r.case,
    r.metric,
    r.unit,
    ...used.map((c) => fmt(r.values[c])),
    r.ratio === undefined ? '' : fmt(r.ratio),
    r.goal ?? '',
    r.met === undefined ? (r.note ?? '') : r.met ? 'yes' : 'NO',
  ]);
  const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [row(head), row(head.map(() => '---')), ...lines.map(row)].join('\n');
}

export function machine(): Record<string, string | number> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
  };
}

/** A small SVG bar chart of P1's latency percentiles per target. */
export function latencySvg(
  samples: Record<string, number[]>,
  pct: (v: number[], p: number) => number,
): string {
  const names = Object.keys(samples);
  const qs = [50, 90, 99];
  const values = names.map((n) => qs.map((q) => pct(samples[n] ?? [], q)));
  const max = Math.max(...values.flat(), 0.001);
  const w = 640,
    h = 300,
    left = 60,
    bottom = 40,
    bw = 40,
    gap = 30;
  const colors = ['#4e79a7', '#f28e2b', '#e15759'];
  const bars: string[] = [];
  names.forEach((name, i) => {
    const x0 = left + i * (qs.length * bw + gap) + gap;
    qs.forEach((q, j) => {
      const v = values[i]?.[j] ?? 0;
      const bh = ((h - bottom - 20) * v) / max;
      const x = x0 + j * bw;
      bars.push(
        `<rect x="${x}" y="${h - bottom - bh}" width="${bw - 4}" height="${bh}" fill="${colors[j]}"/>`,
      );
      bars.push(
        `<text x="${x + (bw - 4) / 2}" y="${h - bottom - bh - 4}" font-size="10" text-anchor="middle">${v.toFixed(2)}</text>`,
      );
    });
    bars.push(
      `<text x="${x0 + (qs.length * bw) / 2}" y="${h - bottom + 16}" font-size="12" text-anchor="middle">${name}</text>`,
    );
  });
  const legend = qs.map(
    (q, j) =>
      `<rect x="${w - 150}" y="${10 + j * 16}" width="10" height="10" fill="${colors[j]}"/><text x="${w - 134}" y="${19 + j * 16}" font-size="11">p${q}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">
<text x="${left}" y="16" font-size="13">P1 small GET latency (ms), same run</text>
<line x1="${left}" y1="${h - bottom}" x2="${w - 10}" y2="${h - bottom}" stroke="#333"/>
${bars.join('\n')}
${legend.join('\n')}
</svg>
`;
}

export async function writeResults(
  dir: string,
  stamp: string,
  rows: readonly Row[],
  svg: string,
  mode: string,
): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const base = path.join(dir, stamp);
  const md = `# Benchmark results ${stamp} (${mode})\n\nMachine: ${JSON.stringify(machine())}\n\n${table(rows)}\n\n![P1 latency](${path.basename(base)}.svg)\n`;
  await fs.writeFile(
    `${base}.json`,
    JSON.stringify({ date: stamp, mode, machine: machine(), rows }, null, 2) + '\n',
  );
  await fs.writeFile(`${base}.md`, md);
  await fs.writeFile(`${base}.svg`, svg);
  return [`${base}.json`, `${base}.md`, `${base}.svg`];
}
