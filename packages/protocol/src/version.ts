import { createRequire } from 'node:module';

// Read at run time from the package itself so a release bump touches one file.
const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

/** Version of the ztka release this build belongs to; agents and CLIs report it to the controller. */
export const PRODUCT_VERSION: string = pkg.version;
