import { describe, it, expect } from 'vitest';
import { Store, truncateLabelValues } from '../core/store.js';
import { render, renderChunks, negotiate, negotiateScrape, type RenderStats } from './exposition.js';
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
    const chunks = [...renderChunks(store, 'openmetrics', { chunkBytes: 2048 })];
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

describe('protobuf and escaping negotiation', () => {
  const PB = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';
  it('serves protobuf only for the delimited MetricFamily encoding, by q', () => {
    expect(negotiate(`${PB};q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2`)).toBe('protobuf');
    expect(negotiate('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text')).toBe('text');
    expect(negotiate(`${PB};q=0.2,application/openmetrics-text;version=1.0.0;q=0.5`)).toBe('openmetrics');
    expect(negotiate(`${PB};q=0`)).toBe('text');
  });

  it('echoes a known escaping scheme (Prometheus 3) and ignores unknown ones', () => {
    expect(negotiateScrape('application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;version=1.0.0;escaping=underscores;q=0.5')).toEqual({ format: 'openmetrics', escaping: 'allow-utf-8' });
    expect(negotiateScrape('text/plain;version=1.0.0;escaping=dots')).toEqual({ format: 'text', escaping: 'dots' });
    expect(negotiateScrape('text/plain;escaping=bogus')).toEqual({ format: 'text', escaping: null });
    expect(negotiateScrape(undefined)).toEqual({ format: 'text', escaping: null });
  });
});

describe('protobuf exposition', () => {
  it('decodes with the published schema to the same values as the text format, one message per family', async () => {
    const protobuf = (await import('protobufjs')).default;
    const { metricFamilyType } = await import('./protobuf.js');
    const store = new Store({ maxSeries: 100, setIntervalMs: 1000 });
    const c = store.statsdSeries({ name: 'c_total', help: 'C.', type: 'counter', labelNames: ['a', 'q'], labelValues: ['x"y\\z\nw', 'žluť'], ttlMs: 0, isSet: false });
    const h = store.statsdSeries({ name: 'h', help: 'H.', type: 'histogram', labelNames: [], labelValues: [], buckets: [1, 10], native: { bucketFactor: 1.1, maxBuckets: 256 }, ttlMs: 0, isSet: false });
    const own = store.histogram('redline_own_seconds', 'Own.', [], [1]);
    own.observe([], 3);
    if (typeof c === 'string' || typeof h === 'string') throw new Error('refused');
    c.value = 7;
    for (const v of [0, 1, 1, 2, 4, -8]) h.observe(v, 1, 0);
    const body = Buffer.concat([...renderChunks(store, 'protobuf', { chunkBytes: 64 })]);
    const T = metricFamilyType();
    const r = protobuf.Reader.create(body);
    const fams: Record<string, { name: string; type: number; metric: Record<string, unknown>[] }> = {};
    while (r.pos < r.len) {
      const f = T.toObject(T.decodeDelimited(r), { longs: Number }) as { name: string; type: number; metric: Record<string, unknown>[] };
      expect(fams[f.name]).toBeUndefined();
      fams[f.name] = f;
    }
    expect(Object.keys(fams).sort()).toEqual(['c_total', 'h', 'redline_own_seconds']);
    expect(fams['c_total']!.metric).toEqual([{ label: [{ name: 'a', value: 'x"y\\z\nw' }, { name: 'q', value: 'žluť' }], counter: { value: 7 } }]);
    const hist = fams['h']!.metric[0]!['histogram'] as Record<string, unknown>;
    expect(hist['sample_count']).toBe(6);
    expect(hist['sample_sum']).toBe(0);
    expect(hist['bucket']).toEqual([
      { cumulative_count: 4, upper_bound: 1 },
      { cumulative_count: 6, upper_bound: 10 },
    ]);
    // Schema 3: 1 → key 0, 2 → key 8, 4 → key 16; -8 → negative key 24; 0 → zero bucket.
    expect(hist['schema']).toBe(3);
    expect(hist['zero_count']).toBe(1);
    expect(hist['positive_span']).toEqual([
      { offset: 0, length: 1 },
      { offset: 7, length: 1 },
      { offset: 7, length: 1 },
    ]);
    expect(hist['positive_delta']).toEqual([2, -1, 0]);
    expect(hist['negative_span']).toEqual([{ offset: 24, length: 1 }]);
    expect(hist['negative_delta']).toEqual([1]);
    // Own histograms are classic only (as client_golang's default).
    const ownHist = fams['redline_own_seconds']!.metric[0]!['histogram'] as Record<string, unknown>;
    expect(ownHist['schema']).toBeUndefined();
    expect(ownHist['positive_span'] ?? []).toEqual([]);
    expect(ownHist['sample_count']).toBe(1);
  });
});

describe('protobuf exposition under the budget', () => {
  it('leaves out whole series past the budget and stays decodable, large families included', async () => {
    const protobuf = (await import('protobufjs')).default;
    const { metricFamilyType } = await import('./protobuf.js');
    const store = new Store({ maxSeries: 10_000, setIntervalMs: 1000 });
    store.gauge('redline_mine', 'Own.').set([], 1);
    for (let i = 0; i < 3000; i++) {
      const s = store.statsdSeries({ name: `h${i % 2}`, help: 'H.', type: 'histogram', labelNames: ['id'], labelValues: [String(i)], buckets: [0.1, 1], native: { bucketFactor: 1.1, maxBuckets: 256 }, ttlMs: 0, isSet: false });
      if (typeof s === 'string') throw new Error(s);
      s.observe(i / 100, 1, 0);
    }
    const decode = (body: Buffer): Map<string, number> => {
      const T = metricFamilyType();
      const r = protobuf.Reader.create(body);
      const out = new Map<string, number>();
      while (r.pos < r.len) {
        const f = T.decodeDelimited(r) as unknown as { name: string; metric: unknown[] };
        out.set(f.name, f.metric.length);
      }
      return out;
    };
    const whole = decode(Buffer.concat([...renderChunks(store, 'protobuf', { chunkBytes: 1024 })]));
    expect(whole.get('h0')).toBe(1500);
    expect(whole.get('h1')).toBe(1500);
    const gen = renderChunks(store, 'protobuf', { chunkBytes: 1024, maxBytes: 50_000 });
    const parts: Buffer[] = [];
    let r = gen.next();
    for (; r.done !== true; r = gen.next()) parts.push(r.value);
    const body = Buffer.concat(parts);
    expect(body.length).toBe(r.value.bytes);
    const got = decode(body);
    expect(got.get('redline_mine')).toBe(1);
    const served = (got.get('h0') ?? 0) + (got.get('h1') ?? 0);
    expect(served).toBe(r.value.series - 1);
    expect(r.value.omittedSeries).toBe(3000 - served);
    expect(served).toBeGreaterThan(100);
    expect(body.length).toBeLessThanOrEqual(50_000 + 200);
  });
});

describe('histogram bytes kept from the last render', () => {
  const body = (store: Store, format: 'text' | 'openmetrics' | 'protobuf', opts: { maxBytes?: number; chunkBytes?: number } = {}): Buffer => Buffer.concat([...renderChunks(store, format, opts)]);
  /** The same render with every kept byte forgotten: what a render from scratch writes. */
  const fresh = (store: Store, format: 'text' | 'openmetrics' | 'protobuf', opts: { maxBytes?: number; chunkBytes?: number } = {}): Buffer => {
    for (const fam of store.families.values()) for (const s of fam.series.values()) s.rendered = null;
    return body(store, format, opts);
  };

  it('serves exactly what a render from scratch serves, in every format, while series change between renders', () => {
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000 });
    const series = [];
    for (let i = 0; i < 300; i++) {
      const s = store.statsdSeries({ name: `h${i % 4}`, help: 'H.', type: 'histogram', labelNames: ['k'], labelValues: [`žluť${i}`], buckets: [-1, 0.1, 1, 1e6], native: i % 2 === 0 ? { bucketFactor: 1.1, maxBuckets: 32 } : undefined, ttlMs: 0, isSet: false });
      if (typeof s === 'string') throw new Error(s);
      s.observe(i / 10, 1, 0);
      series.push(s);
    }
    store.counter('redline_c_total', 'C.').inc([], 1);
    const formats = ['text', 'openmetrics', 'protobuf', 'text', 'text', 'protobuf', 'protobuf', 'openmetrics', 'openmetrics'] as const;
    let reused = 0;
    for (let round = 0; round < formats.length; round++) {
      const format = formats[round]!;
      // Some series move: an observation (a negative one changes what OpenMetrics serves), or a
      // count moved between buckets with the same total and sum (as an OTLP point can).
      for (let i = round; i < series.length; i += 7) {
        const s = series[i]!;
        if (round % 3 === 2) {
          s.buckets![1]! += 1;
          s.buckets![2]! -= 1;
        } else s.observe(round % 2 === 0 ? -i : i * 3, 1, 0);
      }
      const opts = { chunkBytes: [1024, 256 * 1024, 4096][round % 3]!, ...(round === 4 ? { maxBytes: 20_000 } : {}) };
      const kept = series.filter((s) => s.rendered?.format === format).length;
      reused += kept;
      const warm = body(store, format, opts);
      expect(warm.equals(fresh(store, format, opts))).toBe(true);
    }
    // Three renders followed one in the same format: they had every series' bytes to reuse.
    expect(reused).toBe(900);
  });
});
