/**
 * The one definition of every saturation signal and its limit. The alert rules
 * (dashboards/rules.ts), the dashboards, the analysis stage, the report, the live view and the
 * demo all import these numbers; none of them writes a threshold of its own.
 *
 * Two kinds of number live here:
 * - `LIMITS`: thresholds on raw series as the collectors publish them (seconds of lag, cores,
 *   ratios), used by PromQL rules that read those series directly;
 * - `RESOURCES`: each saturation resource of `redline_saturation_ratio{group,role,resource}`,
 *   whose value is already scaled to 0–1 (1 = at its limit), and the ratio at which it counts
 *   as saturated, per role.
 */

/** Thresholds on raw series (units in the names). */
export const LIMITS = {
  /** Event-loop lag (p99 or time-weighted delay) a request starts to feel: warning. */
  eventLoopLagSeconds: 0.1,
  /** Event-loop lag at which health checks time out and load balancers pull the process. */
  eventLoopLagCriticalSeconds: 1,
  /**
   * Time-weighted share of the interval the loop was blocked (stretches over 2 ms): from here on,
   * every other request waits behind the loop, even when each stretch is too short for the delay
   * p99 to reach eventLoopLagSeconds (50 ms stalls ten times a second: p99 ≈ 49 ms).
   */
  eventLoopBlockedRatio: 0.5,
  /** Event-loop utilisation: busy share of the loop's time. */
  eventLoopUtilisation: 0.9,
  /** Cores of a SUT group's busiest thread (a single thread cannot use more than 1). */
  sutThreadCores: 0.9,
  /** Share of the host's CPUs busy. */
  hostCpuBusy: 0.9,
  /** Cores of an injector's busiest process (injectors are judged earlier: their results go invalid). */
  injectorProcessCores: 0.8,
  /** Worst open/limit file-descriptor ratio of any member. */
  fdRatio: 0.8,
  /** Worst mappings/vm.max_map_count ratio of any member. */
  memoryMapsRatio: 0.8,
  /** Resident (or cgroup) memory against its limit. */
  memoryRatio: 0.9,
  /** Share of cgroup CPU periods in which the group was throttled. */
  cpuThrottledShare: 0.25,
  /** Share of an injector's scheduled iterations or scenarios it dropped. */
  scheduleDroppedShare: 0.01,
  /** Share of a user-declared pool in use. */
  poolRatio: 0.9,
} as const;

export type Role = 'sut' | 'injector';

export interface ResourceDefinition {
  /** The `resource` label value. */
  readonly resource: string;
  /** Short human name, for tables and charts. */
  readonly title: string;
  /** Full sentence: what 1 means and where the value comes from. */
  readonly help: string;
  /** Ratio (0–1) at or above which the resource counts as saturated, per role. */
  readonly saturatedAt: Readonly<Record<Role, number>>;
}

const both = (v: number): Record<Role, number> => ({ sut: v, injector: v });

/**
 * Every built-in resource. User-declared pools (`pool:<name>`) take `POOL_RESOURCE`'s
 * threshold unless their declaration names another.
 */
export const RESOURCES = {
  cpu_thread: {
    resource: 'cpu_thread',
    title: 'busiest thread CPU',
    help: "Cores the group's busiest thread uses (or demands: run time plus run-queue wait, where the host collector serves it) out of the one core a thread can use.",
    saturatedAt: { sut: LIMITS.sutThreadCores, injector: LIMITS.injectorProcessCores },
  },
  cpu_group: {
    resource: 'cpu_group',
    title: 'group CPU',
    help: "Cores the whole group receives out of its cgroup CPU quota where one is set, else out of the host's CPUs.",
    saturatedAt: both(LIMITS.hostCpuBusy),
  },
  cpu_throttling: {
    resource: 'cpu_throttling',
    title: 'CPU throttling',
    help: `Share of cgroup CPU periods in which the group was throttled, scaled so that ${LIMITS.cpuThrottledShare * 100}% of periods is 1.`,
    saturatedAt: both(1),
  },
  fds: {
    resource: 'fds',
    title: 'file descriptors',
    help: 'The worst ratio of open file descriptors to the soft RLIMIT_NOFILE of any member.',
    saturatedAt: both(LIMITS.fdRatio),
  },
  memory_maps: {
    resource: 'memory_maps',
    title: 'memory maps',
    help: 'The worst ratio of memory mappings to vm.max_map_count of any member (mmap fails at 1).',
    saturatedAt: both(LIMITS.memoryMapsRatio),
  },
  memory: {
    resource: 'memory',
    title: 'memory',
    help: "Memory of the group against its cgroup memory.max where set, else resident memory against the host's total.",
    saturatedAt: both(LIMITS.memoryRatio),
  },
  accept_queue: {
    resource: 'accept_queue',
    title: 'accept queue',
    help: 'Connections waiting to be accepted against the listen backlog, the worst port of the group; 1 while the kernel counts listen overflows and this group shows its own evidence of them.',
    saturatedAt: both(1),
  },
  eventloop_utilization: {
    resource: 'eventloop_utilization',
    title: 'event-loop utilisation',
    help: 'Busy share of the event loop of the busiest probed process of the group.',
    saturatedAt: both(LIMITS.eventLoopUtilisation),
  },
  eventloop_delay: {
    resource: 'eventloop_delay',
    title: 'event-loop delay',
    help: `Event-loop delay (the larger of lag p99 and the time-weighted delay where the probe serves it, or the watchdog's stall) of the busiest probed process of the group, against ${LIMITS.eventLoopLagSeconds * 1000} ms.`,
    saturatedAt: both(1),
  },
  schedule: {
    resource: 'schedule',
    title: 'schedule misses',
    help: `Iterations or scenarios the load tool dropped because it could not keep its schedule (k6 dropped_iterations, loadtest_scenarios_total{outcome="dropped"}), as a share of those scheduled, scaled so that ${LIMITS.scheduleDroppedShare * 100}% is 1.`,
    saturatedAt: both(1),
  },
  vus: {
    resource: 'vus',
    title: 'virtual users',
    help: 'Virtual users in use against the most the load tool may start (k6 vus / vus_max).',
    saturatedAt: both(0.95),
  },
} as const satisfies Record<string, ResourceDefinition>;

export type BuiltinResource = keyof typeof RESOURCES;

/** Template for user-declared pools (`pool:<name>`: a database pool, V8 contexts, a worker queue). */
export const POOL_RESOURCE: ResourceDefinition = {
  resource: 'pool',
  title: 'pool',
  help: 'In-use against limit of a pool the service declares over statsd (see docs/analysis.md).',
  saturatedAt: both(LIMITS.poolRatio),
};

/** The definition of a `resource` label value (a built-in, or a `pool:<name>`). */
export function resourceDefinition(resource: string): ResourceDefinition {
  const d = (RESOURCES as Record<string, ResourceDefinition>)[resource];
  if (d !== undefined) return d;
  if (resource.startsWith('pool:')) return { ...POOL_RESOURCE, resource, title: `pool ${resource.slice(5)}` };
  return { resource, title: resource, help: resource, saturatedAt: both(1) };
}

/**
 * The verdict's timing: how a noisy ratio becomes a state that does not flap.
 * A resource becomes saturated when at least `enterShare` of its samples over the last
 * `enterWindowSeconds` are at or above its threshold (so it settles well within 30 s of onset);
 * it is released only when fewer than `exitShare` of the samples over the last
 * `exitWindowSeconds` reach `exitFactor` × the threshold.
 */
export const VERDICT_TIMING = {
  enterWindowSeconds: 10,
  enterShare: 0.6,
  /** Fewer samples than this in the enter window never saturate (a signal that just appeared). */
  minSamples: 5,
  exitWindowSeconds: 30,
  exitShare: 0.1,
  exitFactor: 0.9,
} as const;

/** The knee: throughput no longer follows the load while latency rises. */
export const KNEE = {
  /** A step whose achieved throughput is below this share of the offered (or of the load-scaled) throughput. */
  followShare: 0.9,
  /** Latency p95 against the first step's, above which latency counts as risen. */
  latencyFactor: 2,
  /** ... and never below this many seconds (fast services double their latency at no cost). */
  latencyFloorSeconds: 0.02,
  /** An error share that alone marks the knee. */
  errorShare: 0.01,
} as const;
