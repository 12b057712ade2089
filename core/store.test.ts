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

describe('families never clash in either format', () => {
  it('renames le on a histogram and quantile on a summary, counted', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    const h = store.statsdSeries(req('h', 'histogram', { le: '5', exported_le: 'x' }));
    expect(typeof h !== 'string' && h.labels).toBe('{exported_exported_le="5",exported_le="x"}');
    const s = store.statsdSeries(req('s', 'summary', { quantile: '0.5' }));
    expect(typeof s !== 'string' && s.labels).toBe('{exported_quantile="0.5"}');
    // On a counter or gauge `le` is an ordinary label.
    const c = store.statsdSeries(req('c', 'counter', { le: '5' }));
    expect(typeof c !== 'string' && c.labels).toBe('{le="5"}');
    expect(Object.fromEntries(store.renamedLabels)).toEqual({ le: 1, quantile: 1 });
  });

  it('refuses invalid or repeated label names', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    expect(store.statsdSeries({ ...req('g', 'gauge'), labelNames: ['a', 'a'], labelValues: ['1', '2'] })).toBe('label_conflict');
    expect(store.statsdSeries({ ...req('g', 'gauge'), labelNames: ['__x'], labelValues: ['1'] })).toBe('label_conflict');
  });

  it('refuses X beside a counter X_total and the other way round (one OpenMetrics family)', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.statsdSeries(req('x_total', 'counter'));
    expect(store.statsdSeries(req('x', 'gauge'))).toBe('type_conflict');
    expect(store.statsdSeries(req('x', 'counter'))).toBe('type_conflict');
    store.statsdSeries(req('y', 'histogram'));
    expect(store.statsdSeries(req('y_total', 'counter'))).toBe('type_conflict');
    // A gauge named z_total is its own family in OpenMetrics too.
    store.statsdSeries(req('z', 'gauge'));
    expect(typeof store.statsdSeries(req('z_total', 'gauge'))).toBe('object');
  });

  it('a summary leaves x_bucket free, as statsd_exporter does', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.statsdSeries(req('x_bucket', 'counter'));
    expect(typeof store.statsdSeries(req('x', 'summary'))).toBe('object');
    expect(store.statsdSeries(req('x', 'histogram'))).toBe('type_conflict');
  });

  it('an own family that would clash is a programming error', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.counter('conns_total', 'x');
    expect(() => store.gauge('conns', 'x')).toThrow(/clashes with conns_total/);
  });

  it('after a mapping reload a family yields to the new type instead of refusing it', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.statsdSeries(req('lat', 'summary'));
    expect(store.statsdSeries(req('lat', 'histogram'))).toBe('type_conflict');
    store.newMappingEpoch();
    const h = store.statsdSeries(req('lat', 'histogram'));
    expect(typeof h !== 'string' && h.family.type).toBe('histogram');
    // Confirmed under the new mapping: a conflict is a conflict again.
    expect(store.statsdSeries(req('lat', 'summary'))).toBe('type_conflict');
    expect(store.statsdSeriesCount).toBe(1);
  });
});
