#!/usr/bin/env node
// `ztka` entry point. kubectl runs `ztka token` before nearly every command, so that one command takes a
// path that loads only what it needs (exec-plugin.ts); everything else is the full program (program.ts).
const argv = process.argv.slice(2);

async function run(): Promise<number> {
  if (argv[0] === 'token') {
    const { runExecPlugin } = await import('./exec-plugin.js');
    const code = await runExecPlugin(argv.slice(1));
    if (code !== undefined) return code;
  }
  const { main } = await import('./program.js');
  return main(argv);
}

process.exitCode = await run();
