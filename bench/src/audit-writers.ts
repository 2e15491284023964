#!/usr/bin/env node
// `node bench/dist/audit-writers.js [records]`: P6's PostgreSQL rows alone (1 writer against 3), without the
// control plane and cluster the whole bench starts first.
import { p6Writers } from './audit.js';
import { table } from './report.js';

const records = Number(process.argv[2] ?? 200_000);
if (!Number.isSafeInteger(records) || records < 1) throw new Error('records: a positive integer');
console.log(`\n${table(await p6Writers(records))}\n`);
