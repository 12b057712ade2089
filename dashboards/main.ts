/** `npm run dashboards`: regenerate grafana/dashboards/ and the rule files from dashboards/*.ts. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAll, writeAll } from './generate.js';

// dist/dashboards/main.js -> repository root
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const changed = writeAll(root);
process.stdout.write(`${renderAll().size} files generated, ${changed.length} changed${changed.length ? ':\n  ' + changed.join('\n  ') : ''}\n`);
