#!/usr/bin/env node
// Thin launcher: the agent is compiled from TypeScript into dist/ by `npm install` (prepare).
import { main } from '../dist/agent/cli.js';

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`redline: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
