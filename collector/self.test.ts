import { describe, expect, it } from 'vitest';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { Store } from '../core/store.js';
import { render } from '../exporters/exposition.js';
import { registerProcessMetrics } from './self.js';

const familyLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('# TYPE '));

describe('the agent runtime metrics', () => {
  it('are prom-client default metrics: the same families, types and label names', async () => {
    const store = new Store({ maxSeries: 1000, setIntervalMs: 10_000 });
    const stop = registerProcessMetrics(store, '1.2.3');
    const reference = new Registry();
    collectDefaultMetrics({ register: reference });
    // Some GC happens so the GC histogram has series on both sides.
    for (let i = 0; i < 50; i++) Buffer.alloc(1024 * 1024).fill(i);
    await new Promise((r) => setTimeout(r, 50));
    await store.refresh();
    const ours = render(store, 'text');
    const theirs = await reference.metrics();
    stop();
    const declared = [...store.families.values()].filter((f) => !f.name.startsWith('redline_')).map((f) => `${f.name} ${f.type}`);
    const expected = (await reference.getMetricsAsJSON()).map((m) => `${m.name} ${String(m.type)}`);
    expect(declared.sort()).toEqual(expected.sort());
    // Served as prom-client serves them (families without series are left out by Redline).
    const served = familyLines(ours).filter((l) => !l.includes(' redline_'));
    expect(served.length).toBeGreaterThan(20);
    for (const line of served) expect(familyLines(theirs)).toContain(line);
    const labelsOf = (text: string, name: string): string[] =>
      text
        .split('\n')
        .filter((l) => l.startsWith(name + '{'))
        .map((l) => [...l.matchAll(/([a-z_]+)="/g)].map((m) => m[1]).sort().join(','))
        .filter((v, i, a) => a.indexOf(v) === i);
    for (const name of ['nodejs_heap_space_size_used_bytes', 'nodejs_version_info', 'nodejs_gc_duration_seconds_bucket']) {
      expect(labelsOf(ours, name), name).toEqual(labelsOf(theirs, name));
    }
    expect(ours).toContain(`redline_build_info{version="1.2.3",nodejs="${process.versions.node}"} 1\n`);
  });

  it('carry this process\'s values', async () => {
    const store = new Store({ maxSeries: 1000, setIntervalMs: 10_000 });
    const stop = registerProcessMetrics(store, '1.2.3');
    // prom-client counts CPU from the moment its metrics are registered: burn some after that.
    const cpuBefore = process.cpuUsage();
    const until = Date.now() + 200;
    while (Date.now() < until) Math.sqrt(Math.random());
    const burnt = process.cpuUsage(cpuBefore);
    await store.refresh();
    const text = render(store, 'text');
    stop();
    const v = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)![1]);
    const total = process.cpuUsage();
    expect(v('process_cpu_seconds_total')).toBeGreaterThanOrEqual((burnt.user + burnt.system) / 1e6);
    expect(v('process_cpu_seconds_total')).toBeLessThanOrEqual((total.user + total.system) / 1e6);
    expect(v('process_start_time_seconds')).toBe(Math.round(Date.now() / 1000 - process.uptime()));
    expect(v('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(v('nodejs_heap_size_used_bytes')).toBeGreaterThan(1024 * 1024);
    const histogram = /^nodejs_gc_duration_seconds_count\{kind="(\w+)"\} (\S+)$/m.exec(text);
    if (histogram) expect(Number(histogram[2])).toBeGreaterThan(0);
  });
});
