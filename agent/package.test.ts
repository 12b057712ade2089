import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { Mapper } from '../collector/statsd/mapper.js';
import { PACKAGE_ROOT, PRESET_DIR, presetFile, presetNames, packageVersion } from './package.js';

describe('what the package ships', () => {
  it('finds its root and version', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string; files: string[] };
    expect(packageVersion()).toBe(pkg.version);
    // The presets are read at run time, so the package must ship them.
    expect(pkg.files).toContain(path.relative(PACKAGE_ROOT, PRESET_DIR));
  });

  it('loads every mapping preset without a warning, each mapping the dashboard names', () => {
    const names = presetNames();
    expect(names).toEqual(expect.arrayContaining(['artillery', 'gevent', 'k6', 'loadtest', 'locust']));
    for (const name of names) {
      const m = Mapper.fromFile(presetFile(name));
      expect(m.warnings, name).toEqual([]);
    }
    expect(Mapper.fromFile(presetFile('k6')).map('k6.http_reqs', 'counter').name).toBe('loadtest_requests_total');
  });

  it('refuses unknown and path-like preset names', () => {
    expect(() => presetFile('nope')).toThrow(/unknown preset "nope" \(known: artillery, gevent, k6, loadtest, locust\)/);
    expect(() => presetFile('../package')).toThrow(/invalid preset name/);
  });
});
