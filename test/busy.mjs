#!/usr/bin/env node
/**
 * `npm run test:busy`: the whole suite while a CPU burner occupies one core, so that a test
 * that only passes on an idle machine fails here rather than in CI. The burner is a child
 * process started here and stopped by its PID (SIGTERM, then SIGKILL), whatever the outcome.
 * Extra arguments go to vitest (e.g. a file filter).
 */
import { spawn } from 'node:child_process';

const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
const started = Date.now();
let stopping = false;

function stopBurner() {
  if (stopping || burner.exitCode !== null || burner.signalCode !== null) return Promise.resolve();
  stopping = true;
  return new Promise((resolve) => {
    const kill = setTimeout(() => process.kill(burner.pid, 'SIGKILL'), 3000);
    burner.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(burner.pid, 'SIGTERM');
  });
}

process.stderr.write(`test:busy: CPU burner pid ${burner.pid} on one core\n`);
const vitest = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => vitest.kill(sig));
vitest.once('exit', async (code, signal) => {
  await stopBurner();
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  process.stderr.write(`test:busy: ${code === 0 ? 'passed' : 'FAILED'} in ${seconds} s with a burner on one core\n`);
  process.exit(code ?? (signal ? 1 : 0));
});
