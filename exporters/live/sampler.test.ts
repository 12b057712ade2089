import { describe, expect, it } from 'vitest';
import { Store } from '../../core/store.js';
import { Sampler, histogramQuantile, kneeOf } from './sampler.js';
import { History } from './history.js';
import { VerdictTracker } from './verdict.js';
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

describe('kneeOf', () => {
  const step = (load: number, throughput: number) => ({ load, loadUnit: 'processes' as const, throughput, p95Seconds: null, seconds: 10 });
  it('is the first step whose throughput gained less than half of its load increase', () => {
    expect(kneeOf([step(1, 100), step(2, 195), step(3, 290), step(4, 300)])).toBe(3);
    expect(kneeOf([step(1, 100), step(2, 200), step(3, 300)])).toBeNull();
  });
});

describe('VerdictTracker', () => {
  it('holds 5 s before saying saturated, keeps the first second as onset, and does not flap at the threshold', () => {
    const v = new VerdictTracker({ holdSeconds: 5, clearSeconds: 30 });
    for (let s = 0; s < 4; s++) v.observe('a', 'api', 'sut', 'fds', 0.85, 0.8, s * 1000);
    expect(v.verdict().state).toBe('ok');
    v.observe('a', 'api', 'sut', 'fds', 0.85, 0.8, 4000);
    expect(v.verdict()).toMatchObject({ state: 'sut_saturated', sut: { group: 'api', resource: 'fds', onsetMs: 0 } });
    // Hovering around the threshold for a minute keeps the verdict.
    for (let s = 5; s < 65; s++) v.observe('a', 'api', 'sut', 'fds', s % 2 ? 0.79 : 0.81, 0.8, s * 1000);
    expect(v.verdict().state).toBe('sut_saturated');
    for (let s = 65; s < 95; s++) v.observe('a', 'api', 'sut', 'fds', 0.1, 0.8, s * 1000);
    expect(v.verdict().state).toBe('ok');
  });
  it('says both when an injector saturates too, each side with its first resource', () => {
    const v = new VerdictTracker({ holdSeconds: 1, clearSeconds: 30 });
    v.observe('a', 'api', 'sut', 'cpu_thread', 1, 0.9, 2000);
    v.observe('b', 'api', 'sut', 'fds', 1, 0.8, 3000);
    v.observe('c', 'load', 'injector', 'cpu_process', 0.9, 0.8, 5000);
    expect(v.verdict()).toMatchObject({ state: 'both', sut: { resource: 'cpu_thread' }, injector: { group: 'load' } });
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
  it('reads the load, the latency and the saturation of each group from the store', () => {
    let now = 0;
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000, now: () => now });
    const users = store.gauge('loadtest_active_users', 'users', []);
    const reqs = store.counter('loadtest_requests_total', 'requests', []);
    const fd = store.gauge('redline_process_fd_ratio', 'fds', ['group', 'role']);
    const sampler = new Sampler(store, () => ({ lines: now / 10, rejected: new Map([['malformed_line', 0]]), dropped: new Map() }));
    let row: (number | null)[] = [];
    for (let s = 0; s <= 6; s++) {
      now = s * 1000;
      users.set([], 10);
      reqs.inc([], s === 0 ? 0 : 50);
      fd.set(['api', 'sut'], 0.25);
      fd.set(['load', 'injector'], 0.5);
      row = sampler.sample(now);
    }
    const at = (id: string) => row[sampler.series.findIndex((x) => x.id === id)];
    expect(at('load.users')).toBe(10);
    expect(at('throughput.achieved')).toBe(50); // 50 requests a second over the 5 s window
    expect(at('saturation.api.fds')).toBe(0.25);
    expect(at('injector.load.fds')).toBe(0.5);
    expect(at('intake.lines')).toBe(100);
    expect(sampler.series.find((x) => x.id === 'saturation.api.fds')).toMatchObject({ panel: 'saturation', unit: 'ratio', limit: 1, threshold: 0.8 });
  });
});

describe('parseLabels', () => {
  it('reads back escaped values', () => {
    expect([...parseLabels('{a="x",b="q\\"u\\\\o\\nte"}')]).toEqual([['a', 'x'], ['b', 'q"u\\o\nte']]);
    expect(parseLabels('').size).toBe(0);
  });
});
