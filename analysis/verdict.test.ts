import { describe, it, expect } from 'vitest';
import { VerdictMachine, ratioId, replay } from './verdict.js';
import { VERDICT_TIMING } from './thresholds.js';
import type { RatioKey, HistoryData } from './history.js';
import { emptyHistory } from './history.js';
import { seededRandom } from '../test/helpers/random.js';

const API: RatioKey = { group: 'api', role: 'sut', resource: 'cpu_thread' };
const LOAD: RatioKey = { group: 'locust', role: 'injector', resource: 'cpu_thread' };

/** Feeds `series` (one value per second from t0) and returns the state after each sample. */
function run(m: VerdictMachine, key: RatioKey, series: number[], t0 = 1000): boolean[] {
  const id = ratioId(key);
  return series.map((v, i) => {
    m.sample(id, key, t0 + i, v);
    return m.verdict().saturated.some((s) => ratioId(s) === id);
  });
}

function changes(states: boolean[]): number {
  let n = 0;
  for (let i = 1; i < states.length; i++) if (states[i] !== states[i - 1]) n++;
  return n;
}

describe('verdict machine', () => {
  it('settles within the enter window of a clean onset, with the onset at the first sample over', () => {
    const m = new VerdictMachine(1);
    const series = [...Array(30).fill(0.5), ...Array(30).fill(0.97)];
    const states = run(m, API, series);
    const settledAt = states.indexOf(true);
    expect(settledAt).toBeGreaterThanOrEqual(30);
    expect(settledAt - 30).toBeLessThan(VERDICT_TIMING.enterWindowSeconds);
    const v = m.verdict();
    expect(v.state).toBe('sut_saturated');
    expect(v.limit).toBe('sut');
    expect(v.first).toMatchObject({ group: 'api', role: 'sut', resource: 'cpu_thread', onset: 1030, threshold: 0.9 });
    expect(v.first!.settled - v.first!.onset).toBeLessThanOrEqual(30);
  });

  it('does not flap on a noisy ratio hovering at its threshold', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rnd = seededRandom(seed);
      const m = new VerdictMachine(1);
      // 0.9 ± 0.04: about half the samples over the threshold, for ten minutes.
      const series = Array.from({ length: 600 }, () => 0.9 + (rnd() - 0.5) * 0.08);
      const states = run(m, API, series);
      expect(changes(states), `seed ${seed}`).toBeLessThanOrEqual(1);
      // It hovers at the threshold: it does saturate (and stays so).
      expect(states[599], `seed ${seed}`).toBe(true);
    }
  });

  it('stays ok on noise below the threshold, even with single spikes above it', () => {
    const rnd = seededRandom(7);
    const m = new VerdictMachine(1);
    const series = Array.from({ length: 600 }, (_, i) => (i % 17 === 0 ? 1 : 0.75 + (rnd() - 0.5) * 0.1));
    const states = run(m, API, series);
    expect(states.every((s) => !s)).toBe(true);
    expect(m.verdict()).toMatchObject({ state: 'ok', limit: 'none', first: null });
  });

  it('releases only after a whole exit window well below, and keeps the crossing for the run', () => {
    const m = new VerdictMachine(1);
    const series = [...Array(20).fill(0.95), ...Array(60).fill(0.3)];
    const states = run(m, API, series);
    const releasedAt = states.lastIndexOf(true) + 1;
    expect(releasedAt - 20).toBeGreaterThanOrEqual(VERDICT_TIMING.exitWindowSeconds * (1 - VERDICT_TIMING.exitShare) - 1);
    expect(states[79]).toBe(false);
    const v = m.verdict();
    expect(v.state).toBe('ok');
    expect(v.limit).toBe('sut');
    expect(v.crossings).toHaveLength(1);
  });

  it('says both when the SUT and the injector saturate together, the earlier onset first', () => {
    const m = new VerdictMachine(1);
    const a = ratioId(API);
    const b = ratioId(LOAD);
    for (let i = 0; i < 60; i++) {
      // The injector crosses its 0.8 threshold two seconds before the SUT crosses 0.9.
      m.sample(a, API, 2000 + i, i >= 22 ? 0.95 : 0.4);
      m.sample(b, LOAD, 2000 + i, i >= 20 ? 0.85 : 0.3);
    }
    const v = m.verdict();
    expect(v.state).toBe('both');
    expect(v.limit).toBe('both');
    expect(v.first).toMatchObject({ group: 'locust', role: 'injector', onset: 2020, threshold: 0.8 });
    expect(v.sut).toMatchObject({ group: 'api', onset: 2022 });
    expect(v.saturated.map((s) => s.group)).toEqual(['locust', 'api']);
  });

  it('a signal that appears needs enough samples before it can saturate', () => {
    const m = new VerdictMachine(1);
    const states = run(m, API, [1, 1, 1, 1]);
    expect(states.some((s) => s)).toBe(false);
  });

  it('replays a recorded history to the same verdict as live', () => {
    const rnd = seededRandom(11);
    const h: HistoryData = emptyHistory(1);
    const values = Array.from({ length: 120 }, (_, i) => (i < 50 ? 0.4 : 0.93) + (rnd() - 0.5) * 0.04);
    h.t = values.map((_, i) => 5000 + i);
    h.ratios = [{ ...API, values: values.map((v, i) => (i === 70 ? null : v)) }];
    const live = new VerdictMachine(1);
    values.forEach((v, i) => live.sample(ratioId(API), API, 5000 + i, i === 70 ? NaN : v));
    expect(replay(h)).toEqual(live.verdict());
    expect(replay(h).first?.onset).toBe(5050);
  });
});
