/**
 * The series the analysis stage reads from the store, by name, and how it reads them. Where a
 * better signal may be served (CPU demand, a time-weighted loop delay, cgroup limits), the better
 * one is listed first and used when present; the analysis never requires it.
 */
import type { Family, Series, Store } from '../core/store.js';

export const INPUTS = {
  processCount: 'redline_process_count',
  injectorProcesses: 'redline_injector_processes',
  /** Demand (run time + run-queue wait) of the busiest thread, then what it received. */
  busiestThreadCpu: ['redline_process_busiest_thread_cpu_demand_ratio', 'redline_process_busiest_thread_cpu_ratio'],
  groupCpuCores: 'redline_process_cpu_cores',
  cgroupCpuLimitCores: 'redline_cgroup_cpu_limit_cores',
  cgroupCpuPeriods: 'redline_cgroup_cpu_periods_total',
  cgroupCpuThrottledPeriods: 'redline_cgroup_cpu_throttled_periods_total',
  cgroupMemoryBytes: 'redline_cgroup_memory_bytes',
  cgroupMemoryLimitBytes: 'redline_cgroup_memory_limit_bytes',
  processMemoryBytes: 'redline_process_memory_bytes',
  hostMemoryBytes: 'redline_host_memory_bytes',
  hostCpus: 'redline_host_cpus',
  hostCpuSeconds: 'redline_host_cpu_seconds_total',
  fdRatio: 'redline_process_fd_ratio',
  mapsRatio: 'redline_process_memory_maps_ratio',
  listenQueueLength: 'redline_listen_queue_length',
  listenQueueLimit: 'redline_listen_queue_limit',
  listenOverflows: 'redline_host_tcp_listen_overflows_total',
  eventLoopUtilisation: 'redline_nodejs_eventloop_utilization',
  /** Per-timer lag quantiles, then the time-weighted delay and the watchdog's stall where served. */
  eventLoopLag: 'redline_nodejs_eventloop_lag_seconds',
  eventLoopDelay: 'redline_nodejs_eventloop_delay_seconds',
  eventLoopStalled: 'redline_nodejs_eventloop_stalled_seconds',
  /** The pool convention: gauges with a `pool` label (docs/analysis.md). */
  poolInUse: 'redline_pool_in_use',
  poolLimit: 'redline_pool_limit',
  /** Load-tool series (the loadtest preset's names; k6 over OTLP keeps its own for these). */
  requests: 'loadtest_requests_total',
  errors: 'loadtest_errors_total',
  latency: 'loadtest_request_duration_seconds',
  activeUsers: 'loadtest_active_users',
  offeredRate: 'loadtest_offered_rate',
  /** Connects that took ≥ 0.9 s: a SYN was dropped and retried (a full accept queue, seen by the clients). */
  slowConnects: 'loadtest_slow_connects_total',
  scenarios: 'loadtest_scenarios_total',
  k6Dropped: 'k6_dropped_iterations_total',
  k6Iterations: 'k6_iterations_total',
  k6Vus: 'k6_vus',
  k6VusMax: 'k6_vus_max',
} as const;

export type Labels = Readonly<Record<string, string>>;

const parsed = new WeakMap<Series, Labels>();
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The labels of a series, parsed once from its serialised form and cached. */
export function labelsOf(s: Series): Labels {
  let l = parsed.get(s);
  if (l === undefined) {
    const out: Record<string, string> = {};
    for (const m of s.labels.matchAll(LABEL)) out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    l = out;
    parsed.set(s, l);
  }
  return l;
}

export function family(store: Store, name: string | readonly string[]): Family | undefined {
  if (typeof name === 'string') return store.families.get(name);
  for (const n of name) {
    const f = store.families.get(n);
    if (f !== undefined && f.series.size > 0) return f;
  }
  return undefined;
}

/** Calls `fn` for every series of the family (the first present of a list of names). */
export function forEach(store: Store, name: string | readonly string[], fn: (labels: Labels, s: Series) => void): void {
  const f = family(store, name);
  if (f === undefined) return;
  for (const s of f.series.values()) fn(labelsOf(s), s);
}

/** Sum of the values of a family's series that match every `where` label. */
export function sumOf(store: Store, name: string, where: Labels = {}): number | null {
  let total: number | null = null;
  forEach(store, name, (l, s) => {
    for (const k in where) if (l[k] !== where[k]) return;
    total = (total ?? 0) + s.value;
  });
  return total;
}

/**
 * Which group a probe or pool series belongs to: its `group` label (the host collector's, set
 * from the pid), else its `service`.
 */
export function groupOfSeries(l: Labels): string | undefined {
  return l['group'] || l['service'] || undefined;
}
