import { describe, it, expect } from 'vitest';
import { Store } from './store.js';
import { escapeMetricName, escapeLabelValue } from './labels.js';
import { SummaryWindow, DEFAULT_SUMMARY_OPTIONS } from './summary.js';

describe('escapeMetricName (statsd_exporter rules)', () => {
  const cases: [string, string][] = [
    ['simple_name', 'simple_name'],
    ['a.b.c', 'a_b_c'],
    ['a-b', 'a_b'],
    ['a--b', 'a_b'],
    ['a---b', 'a_b'],
    ['a.-b', 'a__b'],
    ['1abc', '_1abc'],
    ['héllo', 'h_llo'],
    ['a😀b', 'a_b'],
    ['', ''],
  ];
  for (const [input, out] of cases) it(`${JSON.stringify(input)} → ${JSON.stringify(out)}`, () => expect(escapeMetricName(input)).toBe(out));
});

describe('label value escaping', () => {
  it('escapes backslash, quote and newline only', () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).toBe('a\\\\b\\"c\\nd\te');
  });
});

describe('own families', () => {
  it('throws when code declares one name with two types', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.counter('dup_total', 'x');
    expect(() => store.gauge('dup_total', 'x')).toThrow(/already registered/);
  });

  it('refuses statsd series that take an own name', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    store.gauge('redline_statsd_series', 'x');
    const r = store.statsdSeries({ name: 'redline_statsd_series', help: '', type: 'gauge', labelNames: [], labelValues: [], ttlMs: 0, isSet: false });
    expect(r).toBe('name_conflict');
  });
});

describe('summary window', () => {
  it('computes quantiles over the window and forgets old samples', () => {
    const w = new SummaryWindow({ ...DEFAULT_SUMMARY_OPTIONS, maxAgeMs: 10_000, ageBuckets: 5 }, 0);
    for (let i = 1; i <= 100; i++) w.observe(i, 0);
    expect(w.quantiles(1000)).toEqual([50, 90, 99]);
    expect(w.quantiles(20_000).every(Number.isNaN)).toBe(true);
  });

  it('bounds memory with a reservoir', () => {
    const w = new SummaryWindow({ ...DEFAULT_SUMMARY_OPTIONS, bufCap: 100 }, 0);
    for (let i = 0; i < 100_000; i++) w.observe(i % 1000, 0);
    const [p50] = w.quantiles(0);
    expect(p50).toBeGreaterThan(350);
    expect(p50).toBeLessThan(650);
  });
});
