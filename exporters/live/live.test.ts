import { describe, expect, it } from 'vitest';
import { Store } from '../../core/store.js';
import { Analysis } from '../../analysis/stage.js';
import { LiveView } from './live.js';

describe('LiveView on the analysis stage', () => {
  it('draws the stage ratios with their thresholds, and its verdict with the onset', () => {
    let now = 1_000_000;
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000, now: () => now });
    const count = store.gauge('redline_process_count', 'members', ['group', 'role']);
    const fd = store.gauge('redline_process_fd_ratio', 'fds', ['group', 'role']);
    count.set(['api', 'sut'], 1);
    const analysis = new Analysis(store, { intervalMs: 1000 });
    const live = new LiveView({ store, analysis, about: () => ({ version: 't', telemetryPath: '/metrics', lines: [] }) });
    live.start();
    const verdicts: string[] = [];
    for (let s = 0; s < 40; s++) {
      now += 1000;
      fd.set(['api', 'sut'], s < 10 ? 0.1 : 0.95);
      analysis.tick(now);
      verdicts.push(live.snapshot(null).verdict.state);
    }
    const snap = live.snapshot(null);
    const i = snap.series.findIndex((x) => x.id === 'saturation.api.fds');
    expect(snap.series[i]).toMatchObject({ panel: 'saturation', group: 'api', role: 'sut', resource: 'fds', unit: 'ratio', threshold: 0.8, name: 'file descriptors' });
    expect(snap.values[i]!.at(-1)).toBeCloseTo(0.95, 5);
    expect(snap.t.length).toBe(40);
    // The verdict is the stage's: the same state, group, resource and onset.
    expect(verdicts[5]).toBe('ok');
    expect(snap.verdict).toMatchObject({ state: 'sut_saturated', source: 'analysis', sut: { group: 'api', resource: 'fds' } });
    expect(snap.verdict.sut!.onsetMs).toBe(analysis.verdict.sut!.onset * 1000);
    live.stop();
  });

  it('shows declared groups that match no process, since when it first saw them empty', () => {
    let now = 2_000_000;
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000, now: () => now });
    const analysis = new Analysis(store, { intervalMs: 1000 });
    let empty = ['ghost', 'db'];
    const live = new LiveView({ store, analysis, emptyGroups: () => empty, about: () => ({ version: 't', telemetryPath: '/metrics', lines: [] }) });
    live.start();
    const ticks: unknown[] = [];
    for (let s = 0; s < 5; s++) {
      now += 1000;
      if (s === 3) empty = ['ghost'];
      analysis.tick(now);
      ticks.push(live.snapshot(null).emptyGroups);
    }
    expect(ticks[0]).toEqual([
      { group: 'ghost', sinceMs: 2_001_000 },
      { group: 'db', sinceMs: 2_001_000 },
    ]);
    // db matched a process at the fourth tick; ghost is still empty since the first.
    expect(ticks[4]).toEqual([{ group: 'ghost', sinceMs: 2_001_000 }]);
    live.stop();
  });

  it('serialises a range once per tick for every viewer, and again after the next tick', () => {
    let now = 3_000_000;
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000, now: () => now });
    const users = store.gauge('loadtest_active_users', 'users', []);
    const analysis = new Analysis(store, { intervalMs: 1000 });
    const live = new LiveView({ store, analysis, now: () => now, about: () => ({ version: 't', telemetryPath: '/metrics', lines: [] }) });
    live.start();
    users.set([], 3);
    now += 1000;
    analysis.tick(now);
    const a = live.snapshotJson('5m', 300);
    expect(live.snapshotJson('5m', 300)).toBe(a);
    expect(JSON.parse(a).t).toEqual([now]);
    users.set([], 4);
    now += 1000;
    analysis.tick(now);
    const b = JSON.parse(live.snapshotJson('5m', 300)) as { t: number[]; series: { id: string }[]; values: (number | null)[][] };
    expect(b.t.length).toBe(2);
    const i = b.series.findIndex((x) => x.id === 'load.users');
    expect(b.values[i]).toEqual([3, 4]);
    live.stop();
  });
});

describe('Analysis steps and knee for the live view', () => {
  it('are computed once per tick whoever asks, and move with the next tick', () => {
    let now = 4_000_000;
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000, now: () => now });
    const procs = store.gauge('redline_injector_processes', 'procs', ['group']);
    const analysis = new Analysis(store, { intervalMs: 1000 });
    for (let s = 0; s < 20; s++) {
      procs.set(['load'], s < 10 ? 1 : 2);
      now += 1000;
      analysis.tick(now);
    }
    const first = analysis.stepsAndKnee();
    expect(analysis.stepsAndKnee()).toBe(first);
    expect(analysis.snapshot().steps).toBe(first.steps);
    expect(first.steps.map((s) => s.load)).toEqual([1, 2]);
    now += 1000;
    analysis.tick(now);
    expect(analysis.stepsAndKnee()).not.toBe(first);
  });

  it('serialises only the rows of the range asked for', () => {
    let now = 5_000_000;
    const store = new Store({ maxSeries: 1000, setIntervalMs: 1000, now: () => now });
    const users = store.gauge('loadtest_active_users', 'users', []);
    const analysis = new Analysis(store, { intervalMs: 1000, historyRows: 50 });
    // 80 ticks into a ring of 50 rows: the slice must also be right across the wrap.
    for (let s = 0; s < 80; s++) {
      users.set([], s);
      now += 1000;
      analysis.tick(now);
    }
    const since = now / 1000 - 10;
    expect(analysis.history.rowsSince(since)).toBe(10);
    expect(analysis.history.rowsSince(-Infinity)).toBe(50);
    expect(analysis.history.rowsSince(now / 1000)).toBe(0);
    const h = analysis.snapshot(since).history;
    expect(h.t).toEqual(Array.from({ length: 10 }, (_, k) => now / 1000 - 9 + k));
    expect(h.activeUsers).toEqual(Array.from({ length: 10 }, (_, k) => 70 + k));
  });
});
