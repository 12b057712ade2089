import { describe, it, expect } from 'vitest';
import { Store } from './store.js';
import { escapeMetricName, escapeLabelValue } from './labels.js';
import { SummaryWindow, DEFAULT_SUMMARY_OPTIONS } from './summary.js';
import { render, negotiate } from '../exporters/exposition.js';

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
  it('renders counters, gauges and histograms with one HELP/TYPE each', () => {
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    const c = store.counter('x_total', 'Things.', ['kind']);
    c.inc(['a'], 2);
    c.inc(['b']);
    const h = store.histogram('lat_seconds', 'Latency.', ['route'], [0.1, 1]);
    h.observe(['/'], 0.05);
    h.observe(['/'], 0.5);
    h.observe(['/'], 5);
    const text = render(store, 'text');
    expect(text).toContain('# TYPE x_total counter\nx_total{kind="a"} 2\nx_total{kind="b"} 1\n');
    expect(text).toContain('lat_seconds_bucket{route="/",le="0.1"} 1\nlat_seconds_bucket{route="/",le="1"} 2\nlat_seconds_bucket{route="/",le="+Inf"} 3\n');
    expect(text).toContain('lat_seconds_sum{route="/"} 5.55\nlat_seconds_count{route="/"} 3\n');
  });

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

describe('content negotiation', () => {
  it('prefers OpenMetrics only when asked for it', () => {
    expect(negotiate(undefined)).toBe('text');
    expect(negotiate('text/plain')).toBe('text');
    expect(negotiate('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5')).toBe('openmetrics');
    expect(negotiate('application/openmetrics-text;q=0.2,text/plain;q=0.9')).toBe('text');
  });
});
