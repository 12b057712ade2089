import { describe, it, expect } from 'vitest';
import { Mapper } from '../mapper.js';
import { ChainMapper } from './chain.js';

describe('ChainMapper', () => {
  const user = Mapper.fromYaml('mappings:\n  - match: "app.*.hits"\n    name: "user_hits"\n    labels:\n      svc: "$1"\n', 'user.yml');
  const preset = Mapper.fromYaml('defaults:\n  observer_type: summary\nmappings:\n  - match: "app.*.hits"\n    name: "preset_hits"\n  - match: "k6.*"\n    name: "k6_$1"\n', 'preset.yml');
  const chain = new ChainMapper([user, preset]);

  it('lets the first file that matches decide, in order', () => {
    const own = chain.map('app.api.hits', 'counter');
    expect(own.name).toBe('user_hits');
    expect(own.labels).toEqual({ svc: 'api' });
    expect(chain.map('k6.vus', 'gauge').name).toBe('k6_vus');
  });

  it("applies the first file's defaults when no rule matches", () => {
    const r = chain.map('other.thing', 'observer');
    expect(r.matched).toBe(false);
    expect(r.name).toBe('other_thing');
    expect(r.observerType).toBe('histogram');
  });

  it('gathers the warnings of every file and refuses an empty chain', () => {
    expect(chain.warnings).toEqual([...user.warnings, ...preset.warnings]);
    expect(() => new ChainMapper([])).toThrow(/at least one/);
  });
});
