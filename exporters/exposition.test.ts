import { describe, it, expect } from 'vitest';
import { Store } from '../core/store.js';
import { render, negotiate } from './exposition.js';

describe('text exposition of own families', () => {
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
});

describe('content negotiation', () => {
  it('prefers OpenMetrics only when asked for it', () => {
    expect(negotiate(undefined)).toBe('text');
    expect(negotiate('text/plain')).toBe('text');
    expect(negotiate('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5')).toBe('openmetrics');
    expect(negotiate('application/openmetrics-text;q=0.2,text/plain;q=0.9')).toBe('text');
  });
});

describe('floats in le and quantile as client_golang writes them', () => {
  it('text: Go %g, OpenMetrics: the same with .0 on integers', async () => {
    const { goFloat, goFloatOpenMetrics } = await import('./exposition.js');
    const cases: [number, string, string][] = [
      [0.005, '0.005', '0.005'],
      [1, '1', '1.0'],
      [10, '10', '10.0'],
      [100000, '100000', '100000.0'],
      [1e6, '1e+06', '1e+06'],
      [1234567, '1.234567e+06', '1.234567e+06'],
      [0.0001, '0.0001', '0.0001'],
      [0.00001, '1e-05', '1e-05'],
      [-2.5, '-2.5', '-2.5'],
      [1e21, '1e+21', '1e+21'],
      [1e100, '1e+100', '1e+100'],
      [0, '0', '0.0'],
      [Infinity, '+Inf', '+Inf'],
    ];
    for (const [v, text, om] of cases) {
      expect(goFloat(v)).toBe(text);
      expect(goFloatOpenMetrics(v)).toBe(om);
    }
  });
});

describe('OpenMetrics validity', () => {
  it('escapes quotes in HELP and leaves out a histogram _sum that went negative', async () => {
    const { parseOpenMetrics } = await import('../test/helpers/openmetrics.js');
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000 });
    const h = store.statsdSeries({ name: 'h', help: 'Says "hi".', type: 'histogram', labelNames: [], labelValues: [], buckets: [1, 1e6], ttlMs: 0, isSet: false });
    if (typeof h === 'string') throw new Error(h);
    h.observe(-5, 1, 0);
    const om = render(store, 'openmetrics');
    expect(om).toContain('# HELP h Says \\"hi\\".\n');
    expect(om).toContain('h_bucket{le="1.0"} 1\nh_bucket{le="1e+06"} 1\nh_bucket{le="+Inf"} 1\nh_count 1\n');
    expect(om).not.toContain('h_sum');
    expect(parseOpenMetrics(om).map((f) => f.name)).toEqual(['h']);
    const text = render(store, 'text');
    expect(text).toContain('h_bucket{le="1e+06"} 1\n');
    expect(text).toContain('h_sum -5\n');
  });
});
