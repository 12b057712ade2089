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
