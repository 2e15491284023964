#!/usr/bin/env node
// `npm run demo` runs after setup.mjs has installed and built everything; the demo itself is TypeScript.
await import('../testenv/dist/demo.js');
