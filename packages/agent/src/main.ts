#!/usr/bin/env node
// ztka-agent entry point. The tunnel client and request forwarder land in their own modules beside this one.
import { parseArgs } from 'node:util';
import { PRODUCT_VERSION } from '@ztka/protocol';

const usage = `Usage: ztka-agent [--version] [--help]

Runs inside a cluster (or beside it with --kubeconfig), dials out to the ztka
controller and serves the kube API requests that arrive through that tunnel.`;

const { values } = parseArgs({
  options: { version: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.version) console.log(`ztka-agent ${PRODUCT_VERSION}`);
else console.log(usage);
