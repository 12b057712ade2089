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
});
