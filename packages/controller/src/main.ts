#!/usr/bin/env node
// ztka-controller entry point. The server itself (API, kube proxy, tunnel, audit) is wired in server.ts as
// those parts land; for now the binary answers --version and --help so packaging and CI can rely on it.
import { parseArgs } from 'node:util';
import { PRODUCT_VERSION } from '@ztka/protocol';

const usage = `Usage: ztka-controller [--version] [--help]

The central ztka server: users' kubectl requests arrive here and travel down the
tunnel that each cluster's agent keeps open to it.`;

const { values } = parseArgs({
  options: { version: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.version) console.log(`ztka-controller ${PRODUCT_VERSION}`);
else console.log(usage);
