import { describe, expect, it } from 'vitest';
import { DataPointType, type HistogramMetricData, type SumMetricData, type GaugeMetricData } from '@opentelemetry/sdk-metrics';
import { Store } from '../../core/store.js';
import { StoreProducer } from './push.js';

function store(): Store {
  const s = new Store({ maxSeries: 100, setIntervalMs: 10_000 });
  return s;
}

describe('StoreProducer', () => {
  it('reads histograms as explicit-bucket points, deltas between snapshots', () => {
    const st = store();
    const h = st.histogram('lat_seconds', 'Latency.', ['route'], [0.1, 1]);
    h.observe(['a'], 0.05);
    h.observe(['a'], 5);
    const p = new StoreProducer(st, true);
    const first = p.snapshot(1000).find((m) => m.descriptor.name === 'lat_seconds') as HistogramMetricData;
    expect(first.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(first.dataPoints[0]!.attributes).toEqual({ route: 'a' });
    expect(first.dataPoints[0]!.value).toMatchObject({ buckets: { boundaries: [0.1, 1], counts: [1, 0, 1] }, count: 2, sum: 5.05 });
    h.observe(['a'], 0.5);
    const second = p.snapshot(2000).find((m) => m.descriptor.name === 'lat_seconds') as HistogramMetricData;
    expect(second.dataPoints[0]!.value).toMatchObject({ buckets: { boundaries: [0.1, 1], counts: [0, 1, 0] }, count: 1, sum: 0.5 });
    expect(second.dataPoints[0]!.startTime).toEqual([1, 0]);
    expect(second.dataPoints[0]!.endTime).toEqual([2, 0]);
  });

  it('treats a counter that went down as reset: all of the new value is the delta', () => {
    const st = store();
    const c = st.counter('c_total', 'C.');
    c.set([], 10);
    const p = new StoreProducer(st, true);
    const v = (): number => ((p.snapshot().find((m) => m.descriptor.name === 'c_total') as SumMetricData).dataPoints[0]!.value);
    expect(v()).toBe(10);
    c.set([], 4);
    expect(v()).toBe(4);
    c.set([], 6);
    expect(v()).toBe(2);
  });

  it('keeps cumulative values and the first-seen start time when cumulative', () => {
    const st = store();
    st.counter('c_total', 'C.').set([], 3);
    const p = new StoreProducer(st, false);
    p.snapshot(5000);
    const m = p.snapshot(9000).find((x) => x.descriptor.name === 'c_total') as SumMetricData;
    expect(m.dataPoints[0]).toMatchObject({ value: 3, startTime: [5, 0], endTime: [9, 0] });
    expect(m.isMonotonic).toBe(true);
  });

  it('turns summaries into a gauge per quantile plus _sum and _count', () => {
    const st = store();
    const s = st.statsdSeries({
      name: 'q_seconds',
      help: 'Q.',
      type: 'summary',
      labelNames: ['a'],
      labelValues: ['x'],
      summary: { quantiles: [{ quantile: 0.5, error: 0 }], maxAgeMs: 60_000, ageBuckets: 1, bufCap: 1 },
      ttlMs: 0,
      isSet: false,
    });
    if (typeof s === 'string') throw new Error(s);
    s.quantileValues = Float64Array.from([0.2]);
    s.sum = 4;
    s.count = 10;
    const ms = new StoreProducer(st, false).snapshot();
    expect((ms.find((m) => m.descriptor.name === 'q_seconds') as GaugeMetricData).dataPoints[0]).toMatchObject({ attributes: { a: 'x', quantile: '0.5' }, value: 0.2 });
    expect((ms.find((m) => m.descriptor.name === 'q_seconds_sum') as SumMetricData).dataPoints[0]!.value).toBe(4);
    expect((ms.find((m) => m.descriptor.name === 'q_seconds_count') as SumMetricData).dataPoints[0]!.value).toBe(10);
  });

  it('unescapes label values into attributes', () => {
    const st = store();
    st.gauge('g', 'G.', ['path']).set(['a "b"\\c\nd'], 1);
    const g = new StoreProducer(st, false).snapshot().find((m) => m.descriptor.name === 'g') as GaugeMetricData;
    expect(g.dataPoints[0]!.attributes).toEqual({ path: 'a "b"\\c\nd' });
  });
});
