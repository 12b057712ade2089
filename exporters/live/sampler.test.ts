import { describe, expect, it } from 'vitest';
import { Store } from '../../core/store.js';
import { Sampler, histogramQuantile } from './sampler.js';
import { History } from './history.js';
import { parseLabels } from './labels.js';

describe('histogramQuantile', () => {
  const bounds = Float64Array.from([0.01, 0.05, 0.1]);
  it('interpolates inside the bucket that holds the rank, as Prometheus does', () => {
    // 10 observations in (0.01, 0.05]: p50 is halfway through that bucket.
    expect(histogramQuantile(0.5, bounds, Float64Array.from([0, 10, 10, 10]))).toBeCloseTo(0.03, 10);
    expect(histogramQuantile(0.9, bounds, Float64Array.from([5, 5, 10, 10]))).toBeCloseTo(0.09, 10);
  });
  it('answers the highest finite bound from the +Inf bucket, and null without observations', () => {
    expect(histogramQuantile(0.99, bounds, Float64Array.from([0, 0, 0, 4]))).toBe(0.1);
    expect(histogramQuantile(0.5, bounds, Float64Array.from([0, 0, 0, 0]))).toBeNull();
  });
});

describe('History', () => {
  it('keeps the last rows only and thins long ranges (max for ratios, mean for the rest)', () => {
    const h = new History(4);
    for (let i = 0; i < 6; i++) h.push(i * 1000, [i, i % 2 ? 1 : 0]);
    expect(h.size).toBe(4);
    expect(h.slice(null, 10, [false, true])).toEqual({ t: [2000, 3000, 4000, 5000], values: [[2, 3, 4, 5], [0, 1, 0, 1]], stepSeconds: 1 });
    expect(h.slice(null, 2, [false, true])).toEqual({ t: [3000, 5000], values: [[2.5, 4.5], [1, 1]], stepSeconds: 2 });
    expect(h.slice(4000, 10, [false, true]).t).toEqual([4000, 5000]);
  });
});

describe('Sampler', () => {
  it('reads the load and the intake from the store', () => {
    let now = 0;
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000, now: () => now });
    const users = store.gauge('loadtest_active_users', 'users', []);
    const reqs = store.counter('loadtest_requests_total', 'requests', []);
    const sampler = new Sampler(store, () => ({ lines: now / 10, rejected: new Map([['malformed_line', 0]]), dropped: new Map() }));
    let row: (number | null)[] = [];
    for (let s = 0; s <= 6; s++) {
      now = s * 1000;
      users.set([], 10);
      reqs.inc([], s === 0 ? 0 : 50);
      row = sampler.sample(now);
    }
    const at = (id: string) => row[sampler.series.findIndex((x) => x.id === id)];
    expect(at('load.users')).toBe(10);
    expect(at('throughput.achieved')).toBe(50); // 50 requests a second over the 5 s window
    expect(at('intake.lines')).toBe(100);
  });
});

describe('parseLabels', () => {
  it('reads back escaped values', () => {
    expect([...parseLabels('{a="x",b="q\\"u\\\\o\\nte"}')]).toEqual([['a', 'x'], ['b', 'q"u\\o\nte']]);
    expect(parseLabels('').size).toBe(0);
  });
});
