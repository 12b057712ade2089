/**
 * Every metric family the host collector publishes, declared once. The /proc collector, the
 * host-wide reader and the fallback collector (no /proc) all declare their families from these
 * constants, so a name, its type, help and label names cannot drift between them.
 */
import type { Store, OwnMetric } from '../../core/store.js';

export interface FamilySpec {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly labels: readonly string[];
}

const GR = ['group', 'role'] as const;
const family = (type: FamilySpec['type'], name: string, help: string, labels: readonly string[] = []): FamilySpec => ({ name, type, help, labels });

// ------------------------------------------------------------------ per group

export const PROCESS_COUNT = family('gauge', 'redline_process_count', 'Processes in the group now.', GR);
export const PROCESS_STARTED = family('counter', 'redline_process_started_total', 'Processes that joined the group (started, first seen, or exec()ed into a command line of the group).', GR);
export const PROCESS_EXITED = family('counter', 'redline_process_exited_total', 'Processes that left the group (exited, or exec()ed into a command line of another group).', GR);
export const PROCESS_OPEN_FDS = family('gauge', 'redline_process_open_fds', 'Open file descriptors, summed over the group (/proc/PID/fd).', GR);
export const PROCESS_MAX_FDS = family('gauge', 'redline_process_max_fds', 'File descriptor limits (soft RLIMIT_NOFILE), summed over the group (/proc/PID/limits).', GR);
export const PROCESS_FD_RATIO = family('gauge', 'redline_process_fd_ratio', 'The worst open/limit file descriptor ratio of any process in the group (0-1).', GR);
export const PROCESS_THREADS = family('gauge', 'redline_process_threads', 'Threads, summed over the group (/proc/PID/stat).', GR);
export const PROCESS_CPU = family(
  'counter',
  'redline_process_cpu_seconds_total',
  'CPU time of the group by mode (user, system; only total where /proc is missing), in seconds; never goes back when members exit (/proc/PID/stat).',
  [...GR, 'mode'],
);
export const PROCESS_CPU_CORES = family('gauge', 'redline_process_cpu_cores', 'CPU used by the group over the last interval, in cores.', GR);
export const PROCESS_BUSIEST_PROCESS = family('gauge', 'redline_process_busiest_process_cpu_ratio', 'Cores used by the busiest single process of the group over the last interval.', GR);
export const PROCESS_BUSIEST_THREAD = family(
  'gauge',
  'redline_process_busiest_thread_cpu_ratio',
  "Cores used by the group's busiest single thread over the last interval (0-1): 1 means a single-threaded process is saturated (/proc/PID/task/TID/schedstat).",
  GR,
);
export const PROCESS_BUSIEST_PROCESS_DEMAND = family(
  'gauge',
  'redline_process_busiest_process_cpu_demand_ratio',
  'CPU the busiest single process of the group asked for over the last interval, in cores: time on a CPU plus time runnable but waiting in a run queue, summed over its threads (/proc/PID/task/TID/schedstat). Above the received CPU when the host is short of cores.',
  GR,
);
export const PROCESS_BUSIEST_THREAD_DEMAND = family(
  'gauge',
  'redline_process_busiest_thread_cpu_demand_ratio',
  "CPU the group's busiest single thread asked for over the last interval (0-1): time on a CPU plus time waiting in a run queue. 1 means the thread would use a whole core if it got one, even when busy neighbours let it receive less.",
  GR,
);
export const PROCESS_MEMORY = family('gauge', 'redline_process_memory_bytes', 'Memory of the group by type (resident, virtual, swap; only resident where /proc is missing), in bytes.', [...GR, 'type']);
export const PROCESS_MAPS = family('gauge', 'redline_process_memory_maps', 'Memory mappings (lines of /proc/PID/maps), summed over the group.', GR);
export const PROCESS_MAPS_RATIO = family('gauge', 'redline_process_memory_maps_ratio', 'The worst ratio of memory mappings to vm.max_map_count of any process in the group (0-1).', GR);
export const PROCESS_CONTEXT_SWITCHES = family(
  'counter',
  'redline_process_context_switches_total',
  'Context switches by type (voluntary, involuntary), summed over all threads of the group (/proc/PID/task/TID/status).',
  [...GR, 'type'],
);
export const PROCESS_IO = family('counter', 'redline_process_io_bytes_total', 'Storage bytes by direction (read, write), where readable (/proc/PID/io).', [...GR, 'direction']);
export const PROCESS_RUNQUEUE_WAIT = family(
  'counter',
  'redline_process_runqueue_wait_seconds_total',
  'Time threads of the group spent runnable but waiting for a CPU, in seconds (/proc/PID/task/TID/schedstat).',
  GR,
);
export const LISTEN_QUEUE_LENGTH = family('gauge', 'redline_listen_queue_length', "Connections waiting in the accept queue of the group's listening TCP port (/proc/net/tcp rx_queue).", [...GR, 'port']);
export const LISTEN_QUEUE_LIMIT = family(
  'gauge',
  'redline_listen_queue_limit',
  "Accept queue limit (backlog) of the group's listening TCP port (from `ss -ltn`); the queue overflows at limit + 1.",
  [...GR, 'port'],
);
export const INJECTOR_PROCESSES = family('gauge', 'redline_injector_processes', 'Load-injector processes running now, by injector group.', ['group']);
export const INJECTOR_CPU_CORES = family('gauge', 'redline_injector_cpu_cores', 'CPU used by the injector group over the last interval, in cores.', ['group']);

// ------------------------------------------------------------------ cgroup (v2 or v1) of a group

export const CGROUP_CPU_LIMIT = family(
  'gauge',
  'redline_cgroup_cpu_limit_cores',
  "CPU quota of the group's cgroup (v2 cpu.max, v1 cpu.cfs_quota_us, over the period), in cores: the tightest on its path to the root; absent without a quota. The cgroup is the one holding most of the group's processes.",
  GR,
);
export const CGROUP_CPU_USAGE = family('counter', 'redline_cgroup_cpu_seconds_total', "CPU time of the group's cgroup (v2 cpu.stat usage_usec, v1 cpuacct.usage), in seconds.", GR);
export const CGROUP_THROTTLED_PERIODS = family(
  'counter',
  'redline_cgroup_cpu_throttled_periods_total',
  "Quota periods in which the group's cgroup was throttled (cpu.stat nr_throttled).",
  GR,
);
export const CGROUP_PERIODS = family('counter', 'redline_cgroup_cpu_periods_total', "Quota periods that elapsed with runnable tasks in the group's cgroup (cpu.stat nr_periods).", GR);
export const CGROUP_THROTTLED = family(
  'counter',
  'redline_cgroup_cpu_throttled_seconds_total',
  "Time the group's cgroup was stopped by its CPU quota (cpu.stat throttled_usec, v1 throttled_time), in seconds.",
  GR,
);
export const CGROUP_MEMORY = family('gauge', 'redline_cgroup_memory_bytes', "Memory charged to the group's cgroup (v2 memory.current, v1 memory.usage_in_bytes), in bytes.", GR);
export const CGROUP_MEMORY_LIMIT = family(
  'gauge',
  'redline_cgroup_memory_limit_bytes',
  "Memory limit of the group's cgroup: the tightest memory.max (v1 memory.limit_in_bytes) on its path to the root, in bytes; absent when unlimited.",
  GR,
);
export const CGROUP_PRESSURE = family(
  'counter',
  'redline_cgroup_pressure_seconds_total',
  "Pressure stall time of the group's cgroup by resource (cpu, memory, io) and kind (some, full), from its *.pressure files, in seconds.",
  [...GR, 'resource', 'kind'],
);

// ------------------------------------------------------------------ the collector itself

export const COLLECTOR_DURATION = family('gauge', 'redline_host_collector_duration_seconds', 'Wall time of the last host collector tick, in seconds.');
export const COLLECTOR_BUSY = family('counter', 'redline_host_collector_busy_seconds_total', 'Time the host collector spent reading /proc (its cost), in seconds.');
export const COLLECTOR_TICKS = family('counter', 'redline_host_collector_ticks_total', 'Host collector ticks run.');
export const COLLECTOR_SKIPPED = family('counter', 'redline_host_collector_skipped_ticks_total', 'Ticks skipped because the previous one was still running.');
export const COLLECTOR_ERRORS = family('counter', 'redline_host_collector_errors_total', 'Reads that failed for a reason other than a process exiting, by reader.', ['reader']);
export const COLLECTOR_PROCESSES = family('gauge', 'redline_host_collector_processes', 'Processes seen on the host in the last tick, by whether a group matched them.', ['matched']);
export const COLLECTOR_RECLASSIFIED = family(
  'counter',
  'redline_host_collector_reclassified_total',
  'Processes classified again because they exec()ed into another program or command line since they were first seen.',
);

// ------------------------------------------------------------------ per process (--host.per-process)

const GRP = [...GR, 'pid'] as const;
export const PID_CPU = family('counter', 'redline_pid_cpu_seconds_total', 'Per-process CPU time by mode (only with --host.per-process).', [...GRP, 'mode']);
export const PID_OPEN_FDS = family('gauge', 'redline_pid_open_fds', 'Per-process open file descriptors (only with --host.per-process).', GRP);
export const PID_THREADS = family('gauge', 'redline_pid_threads', 'Per-process threads (only with --host.per-process).', GRP);
export const PID_RSS = family('gauge', 'redline_pid_resident_memory_bytes', 'Per-process resident memory in bytes (only with --host.per-process).', GRP);
export const PID_BUSIEST_THREAD = family('gauge', 'redline_pid_busiest_thread_cpu_ratio', 'Per-process busiest thread, in cores (only with --host.per-process).', GRP);

// ------------------------------------------------------------------ host-wide

export const HOST_CPU = family('counter', 'redline_host_cpu_seconds_total', 'CPU time of the whole host by mode, from /proc/stat (os.cpus() without /proc), in seconds (all cores summed).', ['mode']);
export const HOST_CPUS = family('gauge', 'redline_host_cpus', 'Logical CPUs of the host.');
export const HOST_LOAD1 = family('gauge', 'redline_host_load1', '1-minute load average of the host.');
export const HOST_LOAD5 = family('gauge', 'redline_host_load5', '5-minute load average of the host.');
export const HOST_LOAD15 = family('gauge', 'redline_host_load15', '15-minute load average of the host.');
export const HOST_MEMORY = family(
  'gauge',
  'redline_host_memory_bytes',
  'Host memory by type (total, free, available, buffers, cached, swap_total, swap_free; total and free without /proc), in bytes.',
  ['type'],
);
export const HOST_PRESSURE = family('counter', 'redline_host_pressure_seconds_total', 'Pressure stall time by resource (cpu, memory, io) and kind (some, full), from /proc/pressure, in seconds.', ['resource', 'kind']);
export const HOST_LISTEN_OVERFLOWS = family('counter', 'redline_host_tcp_listen_overflows_total', 'TcpExt ListenOverflows from /proc/net/netstat: times an accept queue was full (clients see timeouts or ECONNREFUSED).');
export const HOST_LISTEN_DROPS = family('counter', 'redline_host_tcp_listen_drops_total', 'TcpExt ListenDrops from /proc/net/netstat: connection attempts dropped on listening sockets (includes overflows).');
export const HOST_BACKLOG_DROPS = family('counter', 'redline_host_tcp_backlog_drops_total', 'TcpExt TCPBacklogDrop from /proc/net/netstat: packets dropped because a socket backlog was full.');
export const HOST_RCVQ_DROPS = family('counter', 'redline_host_tcp_rcvq_drops_total', 'TcpExt TCPRcvQDrop from /proc/net/netstat: packets dropped because a receive queue was full.');
export const HOST_TCP_SOCKETS = family('gauge', 'redline_host_tcp_sockets', 'TCP sockets by state (inuse, orphan, time_wait, alloc), from /proc/net/sockstat.', ['state']);

/** Declares one family in the store. */
export function declare(store: Store, f: FamilySpec): OwnMetric {
  return f.type === 'counter' ? store.counter(f.name, f.help, f.labels) : store.gauge(f.name, f.help, f.labels);
}

export type Declared<T extends Record<string, FamilySpec>> = { readonly [K in keyof T]: OwnMetric };

/** Declares a named set of families: `declareAll(store, { count: PROCESS_COUNT })` gives `.count`. */
export function declareAll<T extends Record<string, FamilySpec>>(store: Store, specs: T): Declared<T> {
  const out: Record<string, OwnMetric> = {};
  for (const [key, spec] of Object.entries(specs)) out[key] = declare(store, spec);
  return out as Declared<T>;
}
