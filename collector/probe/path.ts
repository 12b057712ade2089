/** Where the built probe lives, for `node --require` in programs without Redline in node_modules. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function probePath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Next to this file once built (dist/collector/probe/), or in dist/ when run from the sources.
  const candidates = [path.join(here, 'probe.cjs'), path.resolve(here, '..', '..', 'dist', 'collector', 'probe', 'probe.cjs')];
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0]!;
}
