import { describe, expect, it } from 'vitest';
import { Store } from '../../core/store.js';
import { Logger } from '../../core/log.js';
import { render, goFloat } from '../../exporters/exposition.js';
import { OtlpIngest, EXPONENTIAL_BOUNDS } from './translate.js';
import { OtlpMapping } from './mapping.js';
import { decodeRequest, encodeRequest, parseJsonRequest } from './schema.js';

const quiet = new Logger('error', () => {});

function setup(maxSeries = 1000, mapping?: OtlpMapping): { store: Store; ingest: OtlpIngest; send: (metrics: unknown[], resource?: unknown[]) => ReturnType<OtlpIngest['ingest']>; text: () => string } {
  const store = new Store({ maxSeries, setIntervalMs: 10_000 });
  const ingest = new OtlpIngest(store, { ttlMs: 0, logger: quiet, ...(mapping ? { mapping } : {}) });
  const send = (metrics: unknown[], resource: unknown[] = [{ key: 'service.name', value: { stringValue: 'svc' } }]) =>
    // Through the binary encoding, as a sender would.
    ingest.ingest(decodeRequest(encodeRequest({ resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ metrics }] }] })));
  return { store, ingest, send, text: () => render(store, 'text') };
}

const attr = (key: string, v: string): unknown => ({ key, value: { stringValue: v } });
const sum = (name: string, value: number, temporality: 1 | 2, monotonic = true, attributes: unknown[] = []): unknown => ({
  name,
  sum: { aggregationTemporality: temporality, isMonotonic: monotonic, dataPoints: [{ asDouble: value, attributes, timeUnixNano: '1' }] },
});

describe('OtlpIngest', () => {
  it('keeps cumulative sums and adds up delta sums', () => {
    const t = setup();
    t.send([sum('c.cum', 5, 2), sum('c.delta', 5, 1)]);
    t.send([sum('c.cum', 7, 2), sum('c.delta', 2, 1)]);
    expect(t.text()).toContain('c_cum_total{job="svc"} 7\n');
    expect(t.text()).toContain('c_delta_total{job="svc"} 7\n');
  });

  it('serves non-monotonic sums as gauges (delta ones add up) and gauges as set', () => {
    const t = setup();
    t.send([sum('users', 3, 1, false), sum('queue', 9, 2, false), { name: 'temp', unit: 'Cel', gauge: { dataPoints: [{ asInt: '21' }] } }]);
    t.send([sum('users', -1, 1, false), sum('queue', 4, 2, false), { name: 'temp', unit: 'Cel', gauge: { dataPoints: [{ asInt: '19' }] } }]);
    const text = t.text();
    expect(text).toContain('# TYPE users gauge\nusers{job="svc"} 2\n');
    expect(text).toContain('queue{job="svc"} 4\n');
    expect(text).toContain('temp_celsius{job="svc"} 19\n');
  });

  it('turns a negative delta on a monotonic sum away', () => {
    const t = setup();
    const r = t.send([sum('c', -1, 1)]);
    expect(r.rejected).toBe(1);
    expect(t.ingest.dropped.get('invalid_data_point')).toBe(1);
  });

  it('maps histograms to classic buckets, delta ones accumulated', () => {
    const t = setup();
    const h = (counts: string[], temporality: 1 | 2): unknown => ({
      name: 'rt',
      unit: 'ms',
      histogram: { aggregationTemporality: temporality, dataPoints: [{ explicitBounds: [10, 100], bucketCounts: counts, count: String(counts.reduce((a, b) => a + Number(b), 0)), sum: 50 }] },
    });
    t.send([h(['1', '2', '3'], 1)]);
    t.send([h(['1', '0', '0'], 1)]);
    expect(t.text()).toContain(
      'rt_milliseconds_bucket{job="svc",le="10"} 2\nrt_milliseconds_bucket{job="svc",le="100"} 4\nrt_milliseconds_bucket{job="svc",le="+Inf"} 7\nrt_milliseconds_sum{job="svc"} 100\nrt_milliseconds_count{job="svc"} 7\n',
    );
    // Another sender on other bounds: moved onto the family's (10 gets what is at or below 5).
    t.send([
      {
        name: 'rt',
        unit: 'ms',
        histogram: { aggregationTemporality: 2, dataPoints: [{ attributes: [attr('s', 'b')], explicitBounds: [5, 50, 1000], bucketCounts: ['1', '2', '3', '4'], count: '10', sum: 1 }] },
      },
    ]);
    expect(t.ingest.rebucketed).toBe(1);
    expect(t.text()).toContain(
      'rt_milliseconds_bucket{job="svc",s="b",le="10"} 1\nrt_milliseconds_bucket{job="svc",s="b",le="100"} 3\nrt_milliseconds_bucket{job="svc",s="b",le="+Inf"} 10\n',
    );
  });

  it('maps exponential histograms onto power-of-two bounds exactly', () => {
    const t = setup();
    // scale 1: bucket i holds (2^(i/2), 2^((i+1)/2)]. offset 0: (1, 1.41], (1.41, 2], (2, 2.83], (2.83, 4]
    t.send([
      {
        name: 'size',
        unit: 'By',
        exponentialHistogram: {
          aggregationTemporality: 2,
          dataPoints: [{ scale: 1, count: '12', sum: 30, zeroCount: '1', positive: { offset: 0, bucketCounts: ['1', '2', '3', '4'] }, negative: { offset: 0, bucketCounts: ['1'] } }],
        },
      },
    ]);
    const text = t.text();
    const b = (le: number): number => Number(new RegExp(`size_bytes_bucket\\{job="svc",le="${goFloat(le).replace(/\+/g, '\\+')}"\\} (\\S+)`).exec(text)![1]);
    expect(EXPONENTIAL_BOUNDS[0]).toBe(2 ** -16);
    expect(b(2 ** -16)).toBe(2); // zero and negative
    expect(b(1)).toBe(2);
    expect(b(2)).toBe(5); // (1, 2]: 1 + 2
    expect(b(4)).toBe(12); // (2, 4]: 3 + 4
    expect(b(2 ** 32)).toBe(12);
    expect(text).toContain('size_bytes_count{job="svc"} 12\n');
    expect(text).toContain('size_bytes_sum{job="svc"} 30\n');
  });

  it('keeps summaries as sent', () => {
    const t = setup();
    t.send([
      {
        name: 'lat',
        unit: 's',
        summary: { dataPoints: [{ count: '10', sum: 2.5, quantileValues: [{ quantile: 0.5, value: 0.2 }, { quantile: 0.99, value: 0.9 }] }] },
      },
    ]);
    expect(t.text()).toContain(
      '# TYPE lat_seconds summary\nlat_seconds{job="svc",quantile="0.5"} 0.2\nlat_seconds{job="svc",quantile="0.99"} 0.9\nlat_seconds_sum{job="svc"} 2.5\nlat_seconds_count{job="svc"} 10\n',
    );
  });

  it('derives job, instance and target_info from the resource', () => {
    const t = setup();
    t.send(
      [sum('hits', 1, 2, true, [attr('http.method', 'GET'), attr('job', 'overridden')])],
      [attr('service.name', 'cart'), attr('service.namespace', 'shop'), attr('service.instance.id', 'i-1'), attr('host.name', 'h1')],
    );
    const text = t.text();
    expect(text).toContain('hits_total{http_method="GET",instance="i-1",job="shop/cart"} 1\n');
    expect(text).toContain('target_info{host_name="h1",instance="i-1",job="shop/cart"} 1\n');
  });

  it('joins attributes that collide after translation', () => {
    const t = setup();
    t.send([sum('x', 1, 2, true, [attr('a.b', '1'), attr('a_b', '2')])]);
    expect(t.text()).toContain('x_total{a_b="1;2",job="svc"} 1\n');
  });

  it('shares the store cap with statsd and counts what it refuses', () => {
    const t = setup(2);
    const r = t.send([sum('a', 1, 2), sum('b', 1, 2), sum('c', 1, 2)]);
    expect(r).toMatchObject({ accepted: 2, rejected: 1 });
    expect(t.ingest.dropped.get('series_limit')).toBe(1);
  });

  it('counts a type conflict with an existing family', () => {
    const t = setup();
    t.send([{ name: 'm', gauge: { dataPoints: [{ asDouble: 1 }] } }]);
    const r = t.send([{ name: 'm', histogram: { aggregationTemporality: 2, dataPoints: [{ count: '1', bucketCounts: ['1'], explicitBounds: [] }] } }]);
    expect(r.rejected).toBe(1);
    expect(t.ingest.dropped.get('type_conflict')).toBe(1);
  });

  it('skips points flagged as having no recorded value', () => {
    const t = setup();
    t.send([{ name: 'g', gauge: { dataPoints: [{ asDouble: 1, flags: 1 }] } }]);
    expect(t.ingest.noValuePoints).toBe(1);
    expect(t.text()).not.toContain('g{');
  });

  it('applies mapping rules: rename, unit conversion, attribute filter, drop', () => {
    const mapping = OtlpMapping.fromYaml(
      `drop_attributes: [url]
otlp_mappings:
  - match: http_req_failed.total
    attributes: { condition: nonzero }
    name: loadtest_errors_total
  - match: http_req_failed.total
    action: drop
  - match: http_req_duration
    name: loadtest_request_duration_seconds
    convert: seconds
`,
      'k6.yml',
    );
    const t = setup(1000, mapping);
    t.send([
      sum('http_req_failed.total', 3, 2, true, [attr('condition', 'nonzero'), attr('url', 'http://x/1'), attr('method', 'GET')]),
      sum('http_req_failed.total', 9, 2, true, [attr('condition', 'zero'), attr('method', 'GET')]),
      {
        name: 'http_req_duration',
        unit: 'ms',
        histogram: { aggregationTemporality: 2, dataPoints: [{ explicitBounds: [5, 75, 7500], bucketCounts: ['1', '1', '1', '1'], count: '4', sum: 8000 }] },
      },
    ]);
    const text = t.text();
    expect(text).toContain('loadtest_errors_total{job="svc",method="GET"} 3\n');
    expect(text).not.toContain('condition=');
    expect(t.ingest.mappingDrops).toBe(1);
    expect(text).toContain('loadtest_request_duration_seconds_bucket{job="svc",le="0.005"} 1\n');
    expect(text).toContain('loadtest_request_duration_seconds_bucket{job="svc",le="0.075"} 2\n');
    expect(text).toContain('loadtest_request_duration_seconds_bucket{job="svc",le="7.5"} 3\n');
    expect(text).toContain('loadtest_request_duration_seconds_sum{job="svc"} 8\n');
  });

  it('reads OTLP/JSON with string 64-bit integers and enum names', () => {
    const t = setup();
    const req = parseJsonRequest(
      JSON.stringify({
        resourceMetrics: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'j' } }] },
            scopeMetrics: [{ metrics: [{ name: 'n', sum: { aggregationTemporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE', isMonotonic: true, dataPoints: [{ asInt: '42' }] } }] }],
          },
        ],
      }),
    );
    t.ingest.ingest(req);
    expect(t.text()).toContain('n_total{job="j"} 42\n');
  });
});
