#!/usr/bin/env node
// `ztka` entry point: picks the subcommand and leaves the work to commands/.
import { PRODUCT_VERSION } from '@ztka/protocol';

const usage = `Usage: ztka <command>

Commands:
  version    print the ztka version
  help       show this help`;

const [command] = process.argv.slice(2);
switch (command) {
  case 'version':
  case '--version':
    console.log(`ztka ${PRODUCT_VERSION}`);
    break;
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    console.log(usage);
    break;
  default:
    console.error(`ztka: unknown command "${command}"\n\n${usage}`);
    process.exitCode = 2;
}
