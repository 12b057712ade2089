/**
 * Where the installed package is, and what it ships: its version and the mapping presets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Package root: two levels up from dist/agent/, one up from agent/ (vitest runs the sources). */
export const PACKAGE_ROOT = [path.resolve(here, '..', '..'), path.resolve(here, '..')].find((p) =>
  fs.existsSync(path.join(p, 'package.json')),
) ?? path.resolve(here, '..');

export function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8'));
    const version = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The mapping presets `--preset NAME` loads (statsd_exporter's format, one file per load tool). */
export const PRESET_DIR = path.join(PACKAGE_ROOT, 'presets');

export function presetNames(): string[] {
  try {
    return fs
      .readdirSync(PRESET_DIR)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => f.slice(0, -'.yml'.length))
      .sort();
  } catch {
    return [];
  }
}

/** The file of preset `name`; throws a message listing the known presets when there is none. */
export function presetFile(name: string): string {
  if (!/^[a-z0-9_-]+$/i.test(name)) throw new Error(`invalid preset name ${JSON.stringify(name)}`);
  const file = path.join(PRESET_DIR, `${name}.yml`);
  if (!fs.existsSync(file)) throw new Error(`unknown preset ${JSON.stringify(name)} (known: ${presetNames().join(', ') || 'none'})`);
  return file;
}

/** The OTLP rules of preset `name` (`otlp/NAME.yml` beside the statsd presets), or null when it has none. */
export function otlpPresetFile(name: string): string | null {
  if (!/^[a-z0-9_-]+$/i.test(name)) return null;
  const file = path.join(PRESET_DIR, 'otlp', `${name}.yml`);
  return fs.existsSync(file) ? file : null;
}
