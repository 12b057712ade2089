/** Small helpers shared by the demo programs: flag parsing and "am I the program being run". */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Parses `--name=value` and `--name value` flags; a flag without a value is `"true"`.
 * Unknown flags and stray arguments throw (the caller prints the message and exits 2).
 */
export function parseFlags(argv: readonly string[], known: readonly string[], booleans: readonly string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h') {
      out.set('help', 'true');
      continue;
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (!known.includes(name)) throw new Error(`unknown flag --${name}`);
    let value: string;
    if (eq > 0) value = a.slice(eq + 1);
    else if (!booleans.includes(name) && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i]!;
    else value = 'true';
    out.set(name, value);
  }
  return out;
}

/** A numeric flag within [min, max], or the default when absent; throws naming the flag otherwise. */
export function numberFlag(flags: Map<string, string>, name: string, def: number, min: number, max: number, integer = false): number {
  const raw = flags.get(name);
  if (raw === undefined) return def;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new Error(`--${name}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return v;
}

/** True when the module at `metaUrl` is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return fs.realpathSync(path.resolve(entry)) === fs.realpathSync(fileURLToPath(metaUrl));
  } catch {
    return false;
  }
}
