/**
 * The documented `--sut` recipes combine with the documented probe recipes: every `--sut NAME='…'`
 * pattern the README and the docs show must match the service's command line both plain and with
 * the probe preloaded (issue 10: `api='node server.js'` silently matched nothing under
 * `node --require … server.js`).
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGroupFlag } from './groups.js';
import { isLauncher } from './classify.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DOCS = ['README.md', 'docs/host-metrics.md', 'docs/probe.md', 'docs/live.md'];

/** `--sut api='…'` patterns of server.js services in a document. */
function sutPatterns(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/--sut[ =](\w+)='([^']*erver[^']*)'/g)].map((m) => `${m[1]}=${m[2]}`);
}

describe('documented recipes', () => {
  it('every --sut pattern for server.js matches the service with and without the probe', () => {
    const found = DOCS.flatMap((f) => sutPatterns(f).map((p) => [f, p] as const));
    expect(found.length).toBeGreaterThanOrEqual(4);
    for (const [file, flag] of found) {
      const g = parseGroupFlag(flag, 'sut');
      for (const cmdline of [
        'node server.js',
        '/usr/local/bin/node server.js --port 3000',
        'node --require redline/probe server.js',
        'node --require /srv/app/node_modules/redline/dist/collector/probe/probe.cjs server.js',
        'node --import redline/probe server.js',
      ]) {
        expect(g.cmdline!.every((re) => re.test(cmdline)), `${file}: ${flag} against ${cmdline}`).toBe(true);
      }
      // And not the agent's own launcher or an editor on the file.
      expect(g.cmdline!.every((re) => re.test('vim server.js')), `${file}: ${flag}`).toBe(false);
    }
  });
});

describe('launchers (npm start, sh -c) are not matched by the command line they pass on', () => {
  it('knows shells running -c scripts and package runners, not programs or shell scripts', () => {
    expect(isLauncher('sh', 'sh -c node server.js --tag=x')).toBe(true);
    expect(isLauncher('bash', 'bash -ec cd /srv && node server.js')).toBe(true);
    expect(isLauncher('npm start --tag', 'npm start --tag=x')).toBe(true);
    expect(isLauncher('npx', 'npx redline --sut api=node .*server\\.js')).toBe(true);
    expect(isLauncher('node', 'node server.js -c config.json')).toBe(false);
    expect(isLauncher('bash', 'bash ./run-server.sh --tag=x')).toBe(false);
    expect(isLauncher('npmd', 'npmd serve')).toBe(false);
  });
});
