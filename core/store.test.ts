import { describe, it, expect } from 'vitest';
import { Store, ownFamily } from './store.js';

const req = (name: string, type: 'counter' | 'gauge' | 'histogram' | 'summary', labels: Record<string, string> = {}) => ({
  name,
  help: 'h',
  type,
  labelNames: Object.keys(labels).sort(),
  labelValues: Object.keys(labels)
    .sort()
    .map((k) => labels[k]!),
  ttlMs: 0,
  isSet: false,
});

describe('own families', () => {
  it('registers a declared family and keeps one series per label set', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    const DEF = ownFamily({ name: 'x_total', help: 'Things.', type: 'counter', labelNames: ['kind'] });
    const c = store.register(DEF);
    c.inc(['a'], 2);
    c.inc(['b']);
    c.inc(['a']);
    const fam = store.families.get('x_total')!;
    expect(fam.own).toBe(true);
    expect([...fam.series.entries()].map(([k, s]) => [k, s.value])).toEqual([
      ['{kind="a"}', 3],
      ['{kind="b"}', 1],
    ]);
    expect(store.register(DEF).family).toBe(fam);
  });

  it('throws when code declares one name with two types', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.counter('dup_total', 'x');
    expect(() => store.gauge('dup_total', 'x')).toThrow(/already registered/);
  });

  it('refuses statsd series that take an own name', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.gauge('redline_statsd_series', 'x');
    expect(store.statsdSeries(req('redline_statsd_series', 'gauge'))).toBe('name_conflict');
  });
});

describe('statsd families', () => {
  it('one family per name, one series per label set, capped', () => {
    const store = new Store({ maxSeries: 2, setIntervalMs: 1000 });
    const a = store.statsdSeries(req('a', 'counter', { k: '1' }));
    expect(store.statsdSeries(req('a', 'counter', { k: '1' }))).toBe(a);
    expect(store.statsdSeries(req('a', 'counter'))).not.toBe(a);
    expect(store.statsdSeries(req('b', 'counter'))).toBe('series_limit');
    expect(store.statsdSeriesCount).toBe(2);
  });

  it('refuses a type conflict and a histogram part', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.statsdSeries(req('x', 'counter'));
    expect(store.statsdSeries(req('x', 'gauge'))).toBe('type_conflict');
    store.statsdSeries(req('lat', 'histogram'));
    expect(store.statsdSeries(req('lat_bucket', 'gauge'))).toBe('type_conflict');
    expect(store.statsdSeries(req('lat_count', 'counter'))).toBe('type_conflict');
  });

  it('expires idle series by TTL and moves the generation', () => {
    let now = 0;
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000, now: () => now });
    const s = store.statsdSeries({ ...req('t', 'gauge'), ttlMs: 1000 });
    const g = store.generation;
    now = 500;
    expect(store.expire()).toBe(0);
    now = 1501;
    expect(store.expire()).toBe(1);
    expect(typeof s !== 'string' && s.dead).toBe(true);
    expect(store.generation).toBe(g + 1);
    expect(store.families.has('t')).toBe(false);
  });
});
