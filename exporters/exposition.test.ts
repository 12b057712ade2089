import { describe, it, expect } from 'vitest';
import { Store, truncateLabelValues } from '../core/store.js';
import { render, renderChunks, negotiate, type RenderStats } from './exposition.js';
import { parseOpenMetrics } from '../test/helpers/openmetrics.js';

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

describe('chunks and the byte budget', () => {
  const fill = (store: Store, n: number, value = 'v'): void => {
    for (let i = 0; i < n; i++) {
      const s = store.statsdSeries({ name: `h${i % 3}`, help: 'H.', type: 'histogram', labelNames: ['k'], labelValues: [`${value}${i}`], buckets: [0.1, 1], ttlMs: 0, isSet: false });
      if (typeof s === 'string') throw new Error(s);
      s.observe(0.5, 1, 0);
    }
  };

  it('yields the same bytes in small chunks as in one piece, multi-byte characters included', () => {
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000 });
    fill(store, 200, 'žluť😀');
    const whole = render(store, 'openmetrics');
    const chunks = [...renderChunks(store, 'openmetrics', { chunkBytes: 4096 })];
    expect(chunks.length).toBeGreaterThan(10);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(whole);
    expect(parseOpenMetrics(whole).map((f) => f.name)).toEqual(['h0', 'h1', 'h2']);
  });

  it('leaves out the series past the budget, keeps every own series, and serves a valid exposition', () => {
    const store = new Store({ maxSeries: 10_000, setIntervalMs: 1000 });
    const mine = store.gauge('redline_mine', 'Own.', ['i']);
    for (let i = 0; i < 50; i++) mine.set([String(i)], i);
    fill(store, 3000);
    const full = Buffer.concat([...renderChunks(store, 'openmetrics')]).length;
    for (const format of ['text', 'openmetrics'] as const) {
      let seen: RenderStats | null = null;
      const gen = renderChunks(store, format, { maxBytes: 20_000, chunkBytes: 1024, last: new Set(['redline_mine']), beforeLast: (s) => (seen = { ...s }) });
      const parts: Buffer[] = [];
      let r = gen.next();
      for (; r.done !== true; r = gen.next()) parts.push(r.value);
      const stats = r.value;
      const body = Buffer.concat(parts);
      expect(body.length).toBe(stats.bytes);
      expect(stats.omittedSeries).toBeGreaterThan(2000);
      expect(stats.series + stats.omittedSeries).toBe(3050);
      expect(seen!.omittedSeries).toBe(stats.omittedSeries);
      // Own series after the budget: the statsd part stays under it.
      expect(seen!.bytes).toBeLessThanOrEqual(20_000);
      expect(full).toBeGreaterThan(20_000 * 10);
      const text = body.toString('utf8');
      for (let i = 0; i < 50; i++) expect(text).toContain(`redline_mine{i="${i}"} ${i}\n`);
      if (format === 'openmetrics') {
        const fams = parseOpenMetrics(text);
        // No family is served without samples.
        for (const f of fams) expect(f.samples.length).toBeGreaterThan(0);
      } else {
        expect(text).not.toMatch(/# TYPE (\S+) \S+\n(?!\1)/);
      }
    }
  });
});

describe('label value length', () => {
  it('cuts long values at a character boundary and counts each series created with one', () => {
    expect(truncateLabelValues(['a', 'b'], 4)).toEqual([['a', 'b'], 0]);
    const [vals, n] = truncateLabelValues(['ok', 'žžžž', 'x'.repeat(10)], 5);
    expect(n).toBe(2);
    expect(vals).toEqual(['ok', 'žž', 'xxxxx']);
    const [emoji] = truncateLabelValues(['😀😀'], 6);
    expect(emoji).toEqual(['😀']);
    const store = new Store({ maxSeries: 10, setIntervalMs: 1000, maxLabelValueBytes: 8 });
    const req = (v: string) => ({ name: 'c', help: 'C.', type: 'counter' as const, labelNames: ['url'], labelValues: [v], ttlMs: 0, isSet: false });
    const a = store.statsdSeries(req('/items/123456789'));
    const b = store.statsdSeries(req('/items/123456789?again'));
    expect(a).toBe(b);
    expect(store.labelValuesTruncated).toBe(1);
    expect(render(store, 'text')).toContain('c{url="/items/1"} 0\n');
  });
});
