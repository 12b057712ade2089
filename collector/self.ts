/**
 * The agent's own process and Node runtime metrics (so "is the observer itself healthy?" has an
 * answer), sampled when /metrics is read. The statsd families live in collector/statsd/metrics.ts.
 */
import fs from 'node:fs';
import { monitorEventLoopDelay, performance, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { Store } from '../core/store.js';

// The statsd families moved next to the ingest; re-exported until every caller imports them there.
export { registerStatsdMetrics } from './statsd/metrics.js';

const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Standard process_* metrics and nodejs_* runtime metrics of the agent itself. */
export function registerProcessMetrics(store: Store, version: string): () => void {
  const cpu = store.counter('process_cpu_seconds_total', 'Total user and system CPU time spent by the agent, in seconds.');
  const cpuMode = store.counter('redline_agent_cpu_seconds_total', 'CPU time spent by the agent, by mode, in seconds.', ['mode']);
  const rss = store.gauge('process_resident_memory_bytes', 'Resident memory size of the agent, in bytes.');
  const vsz = store.gauge('process_virtual_memory_bytes', 'Virtual memory size of the agent, in bytes.');
  const fds = store.gauge('process_open_fds', 'Open file descriptors of the agent.');
  const maxFds = store.gauge('process_max_fds', 'File descriptor limit of the agent.');
  const startTime = store.gauge('process_start_time_seconds', 'Start time of the agent since the Unix epoch, in seconds.');
  const heap = store.gauge('nodejs_heap_size_bytes', 'V8 heap of the agent, by type (used, total), in bytes.', ['type']);
  const external = store.gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JS objects in the agent, in bytes.');
  const lag = store.gauge('nodejs_eventloop_lag_seconds', 'Event-loop delay of the agent since the previous scrape, by quantile, timer resolution taken out, in seconds.', ['quantile']);
  const elu = store.gauge('nodejs_eventloop_utilization', 'Share of time the agent event loop was busy since the previous scrape (0-1).');
  const gcSeconds = store.counter('nodejs_gc_duration_seconds_total', 'Time the agent spent in garbage collection, by kind, in seconds.', ['kind']);
  const gcCount = store.counter('nodejs_gc_total', 'Garbage collections in the agent, by kind.', ['kind']);
  const info = store.gauge('redline_build_info', 'Always 1; labels carry the Redline and Node.js versions.', ['version', 'nodejs']);
  info.set([version, process.versions.node], 1);
  startTime.set([], Math.round((Date.now() - performance.now()) / 1000));

  const RESOLUTION_MS = 10;
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let lastElu = performance.eventLoopUtilization();
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
      gcSeconds.inc([kind], e.duration / 1000);
      gcCount.inc([kind]);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });

  store.onCollect(() => {
    const u = process.cpuUsage();
    cpu.set([], (u.user + u.system) / 1e6);
    cpuMode.set(['user'], u.user / 1e6);
    cpuMode.set(['system'], u.system / 1e6);
    const mem = process.memoryUsage();
    rss.set([], mem.rss);
    heap.set(['used'], mem.heapUsed);
    heap.set(['total'], mem.heapTotal);
    external.set([], mem.external);
    const hs = v8.getHeapStatistics();
    heap.set(['limit'], hs.heap_size_limit);
    // Delay histogram values are in ns; the monitor's own resolution is not lag.
    const q = (p: number): number => (delay.count > 0 ? Math.max(0, delay.percentile(p) / 1e9 - RESOLUTION_MS / 1000) : 0);
    lag.set(['0.5'], q(50));
    lag.set(['0.99'], q(99));
    lag.set(['1'], delay.count > 0 ? Math.max(0, delay.max / 1e9 - RESOLUTION_MS / 1000) : 0);
    delay.reset();
    const now = performance.eventLoopUtilization();
    elu.set([], performance.eventLoopUtilization(now, lastElu).utilization);
    lastElu = now;
    if (process.platform === 'linux') {
      try {
        fds.set([], fs.readdirSync('/proc/self/fd').length - 1);
        const stat = fs.readFileSync('/proc/self/stat', 'latin1');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        vsz.set([], Number(fields[20]));
        const limits = fs.readFileSync('/proc/self/limits', 'latin1');
        const m = /Max open files\s+(\d+|unlimited)/.exec(limits);
        if (m) maxFds.set([], m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]));
      } catch {
        // /proc unreadable (hardened container): these gauges stay at their last value.
      }
    }
  });
  return () => {
    delay.disable();
    gcObserver.disconnect();
  };
}
