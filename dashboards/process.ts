/**
 * "Process detail": every host-collector and probe metric for the process group(s) chosen in the
 * `group` variable, with the load on the same axis.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { LIMITS } from '../analysis/thresholds.js';
import { baseDashboard, DS, F, limitLine, prom, RI, rightAxis, sel, ts, U, withLoad } from './common.js';

export const PROCESS_UID = 'redline-process';

const G = sel('group=~"$group"');
/** Probe series carry `group` only when the host collector matched their pid; `service` picks the rest. */
const P = sel('group=~"$group"');
/** The agents (hosts) on which the selected groups have processes. */
const GROUP_HOSTS = `(count by (env, instance) (redline_process_count{${G}} > 0))`;
const onGroupHosts = (metric: string, perCore: string): string =>
  `max by (env, instance) (${metric}{${sel()}}) / on (env, instance) max by (env, instance) (${perCore}{${sel()}}) and on (env, instance) ${GROUP_HOSTS}`;

export function processDashboard(): dashboard.DashboardBuilder {
  return (
    baseDashboard('Process detail', PROCESS_UID, 'Every host-collector and event-loop probe metric of one process group')
      .withVariable(
        new dashboard.QueryVariableBuilder('group')
          .label('Process group')
          .description('A process group declared with --sut / --injector or in redline.yaml.')
          .datasource(DS)
          .query('label_values(redline_process_count{env=~"$env"}, group)')
          .definition('label_values(redline_process_count{env=~"$env"}, group)')
          .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
          .sort(dashboard.VariableSort.AlphabeticalAsc)
          .multi(true)
          .includeAll(true)
          .allValue('.+'),
      )
      .withRow(new dashboard.RowBuilder('Processes and CPU'))
      .withPanel(
        withLoad(
          ts('Processes', U.short, 'Processes in the group now; started and exited per second show churn (crash loops, worker recycling).')
            .withTarget(prom(`sum by (env, group) (redline_process_count{${G}})`, '{{group}} running {{env}}', 'A'))
            .withTarget(prom(`sum by (env, group) (rate(redline_process_started_total{${G}}[${RI}]))`, 'churn: {{group}} started/s {{env}}', 'B'))
            .withTarget(prom(`sum by (env, group) (rate(redline_process_exited_total{${G}}[${RI}]))`, 'churn: {{group}} exited/s {{env}}', 'C'))
            .overrideByRegexp('^churn: .*', [{ id: 'unit', value: U.ops }, { id: 'custom.drawStyle', value: 'bars' }])
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('CPU by mode, in cores', U.cores, 'User and system CPU of the group in cores. System time rising faster than user time points at lock contention, syscalls or the network stack.')
            .withTarget(prom(`sum by (env, group, mode) (rate(redline_process_cpu_seconds_total{${G}}[${RI}]))`, '{{group}} {{mode}} {{env}}'))
            .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          limitLine(
            ts('Busiest thread and busiest process, in cores', U.cores, 'The busiest single thread and the busiest single process of the group: CPU received, and CPU demanded (received plus run-queue wait, what the alerts read). A thread near 1 core is saturated however idle the host is; demand above received means it is starved by busy neighbours.')
              .withTarget(prom(`max by (env, group) (redline_process_busiest_thread_cpu_ratio{${G}})`, '{{group}} busiest thread {{env}}', 'A'))
              .withTarget(prom(`max by (env, group) (redline_process_busiest_process_cpu_ratio{${G}})`, '{{group}} busiest process {{env}}', 'B'))
              .withTarget(prom(`max by (env, group) (redline_process_busiest_thread_cpu_demand_ratio{${G}})`, '{{group}} busiest thread demand {{env}}', 'C'))
              .withTarget(prom(`max by (env, group) (redline_process_busiest_process_cpu_demand_ratio{${G}})`, '{{group}} busiest process demand {{env}}', 'D'))
              .overrideByRegexp('.* demand .*', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } }])
              .axisSoftMin(0),
            [LIMITS.sutThreadCores, 'orange'],
            [1, 'red'],
          ).span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Run-queue wait', U.percent, 'Share of time the group\'s threads were runnable but waiting for a CPU (schedstat), summed over threads: above 0 the host has more runnable threads than cores.')
            .withTarget(prom(`sum by (env, group) (rate(redline_process_runqueue_wait_seconds_total{${G}}[${RI}]))`, '{{group}} {{env}}'))
            .axisSoftMin(0)
            .span(12),
        ),
      )
      .withPanel(
        withLoad(
          ts('Context switches', U.ops, 'Voluntary and involuntary context switches per second, summed over all threads of the group.')
            .withTarget(prom(`sum by (env, group, type) (rate(redline_process_context_switches_total{${G}}[${RI}]))`, '{{group}} {{type}} {{env}}'))
            .axisSoftMin(0)
            .span(12),
        ),
      )
      .withRow(new dashboard.RowBuilder('File descriptors, threads, memory'))
      .withPanel(
        withLoad(
          rightAxis(
            limitLine(
              ts('File descriptors', U.short, 'Open fds and the fd limits summed over the group (left); the worst open/limit ratio of any one process (right, alert at 80%).')
                .withTarget(prom(`sum by (env, group) (redline_process_open_fds{${G}})`, '{{group}} open {{env}}', 'A'))
                .withTarget(prom(`sum by (env, group) (redline_process_max_fds{${G}})`, '{{group}} limit {{env}}', 'B'))
                .withTarget(prom(`max by (env, group) (redline_process_fd_ratio{${G}})`, 'ratio: {{group}} worst {{env}}', 'C'))
                .axisSoftMin(0),
              [LIMITS.fdRatio, 'red'],
            ),
            '^ratio: .*',
            U.percent,
            'worst open/limit',
          ).span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Threads', U.short, 'Threads summed over the group.')
            .withTarget(prom(`sum by (env, group) (redline_process_threads{${G}})`, '{{group}} {{env}}'))
            .decimals(0)
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Memory', U.bytes, 'Resident, virtual and swapped memory summed over the group.')
            .withTarget(prom(`sum by (env, group, type) (redline_process_memory_bytes{${G}})`, '{{group}} {{type}} {{env}}'))
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          rightAxis(
            ts('Memory maps', U.short, 'Lines of /proc/PID/maps summed over the group (left) and the worst ratio to vm.max_map_count (right).')
              .withTarget(prom(`sum by (env, group) (redline_process_memory_maps{${G}})`, '{{group}} {{env}}', 'A'))
              .withTarget(prom(`max by (env, group) (redline_process_memory_maps_ratio{${G}})`, 'ratio: {{group}} {{env}}', 'B'))
              .axisSoftMin(0),
            '^ratio: .*',
            U.percent,
            'of vm.max_map_count',
          ),
        ),
      )
      .withPanel(
        withLoad(
          ts('Storage I/O', 'Bps', 'Bytes read and written by the group where /proc/PID/io is readable.')
            .withTarget(prom(`sum by (env, group, direction) (rate(redline_process_io_bytes_total{${G}}[${RI}]))`, '{{group}} {{direction}} {{env}}'))
            .axisSoftMin(0),
        ),
      )
      .withRow(new dashboard.RowBuilder('Listening sockets'))
      .withPanel(
        withLoad(
          ts('Accept queue and backlog', U.short, 'Connections waiting to be accepted on each port the group listens on, and its backlog limit.')
            .withTarget(prom(`max by (env, group, port) (redline_listen_queue_length{${G}})`, '{{group}}:{{port}} queued {{env}}', 'A'))
            .withTarget(prom(`max by (env, group, port) (redline_listen_queue_limit{${G}})`, '{{group}}:{{port}} backlog {{env}}', 'B'))
            .overrideByRegexp('.* backlog .*', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } }])
            .decimals(0)
            .axisSoftMin(0)
            .span(24),
        ),
      )
      .withRow(new dashboard.RowBuilder('Event loop and runtime (Node probe)'))
      .withPanel(
        withLoad(
          limitLine(
            ts('Event-loop lag', U.seconds, 'Event-loop delay of each probed process over each probe interval: p50, p99 and max, the monitor resolution taken out (an idle loop reads ~0).')
              .withTarget(prom(`max by (env, service, pid, quantile) (redline_nodejs_eventloop_lag_seconds{${sel('group=~"$group", quantile=~"0.5|0.99|1"')}})`, '{{service}} pid {{pid}} q{{quantile}} {{env}}'))
              .axisSoftMin(0),
            [LIMITS.eventLoopLagSeconds, 'orange'],
            [LIMITS.eventLoopLagCriticalSeconds, 'red'],
          ),
        ),
      )
      .withPanel(
        withLoad(
          rightAxis(
            limitLine(
              ts('Delay a request would meet, and stalls', U.seconds, 'Time-weighted event-loop delay of each probed process (p50, p99, max: the delay an arrival at a random moment of the interval would have met, so intermittent stalls count), how long the loop has been stuck right now (the watchdog thread), and the share of the interval it was blocked (right axis).')
                .withTarget(prom(`max by (env, service, pid, quantile) (redline_nodejs_eventloop_delay_seconds{${sel('group=~"$group", quantile=~"0.5|0.99|1"')}})`, '{{service}} pid {{pid}} delay q{{quantile}} {{env}}', 'A'))
                .withTarget(prom(`max by (env, service, pid) (redline_nodejs_eventloop_stalled_seconds{${P}})`, '{{service}} pid {{pid}} stuck for {{env}}', 'B'))
                .withTarget(prom(`max by (env, service, pid) (redline_nodejs_eventloop_blocked_ratio{${P}})`, 'blocked: {{service}} pid {{pid}} {{env}}', 'C'))
                .overrideByRegexp('.* stuck for .*', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }])
                .axisSoftMin(0),
              [LIMITS.eventLoopLagSeconds, 'orange'],
              [LIMITS.eventLoopLagCriticalSeconds, 'red'],
            ),
            '^blocked: .*',
            U.percent,
            'blocked share',
          ),
        ),
      )
      .withPanel(
        withLoad(
          limitLine(
            ts('Event-loop utilisation', U.percent, 'Share of each interval the loop was busy (0-1).')
              .withTarget(prom(`max by (env, service, pid) (redline_nodejs_eventloop_utilization{${P}})`, '{{service}} pid {{pid}} {{env}}'))
              .min(0)
              .max(1),
            [LIMITS.eventLoopUtilisation, 'red'],
          ),
        ),
      )
      .withPanel(
        withLoad(
          ts('GC pause time', U.percent, 'Share of time spent in garbage-collection pauses, by kind. Major GC climbing with the load means memory pressure is part of the latency.')
            .withTarget(prom(`sum by (env, service, kind) (rate(redline_nodejs_gc_pause_seconds_total{${P}}[${RI}]))`, '{{service}} {{kind}} {{env}}', 'A'))
            .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        ts('GC count', U.ops, 'Garbage collections per second, by kind.')
          .withTarget(prom(`sum by (env, service, kind) (rate(redline_nodejs_gc_total{${P}}[${RI}]))`, '{{service}} {{kind}} {{env}}'))
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        ts('Heap', U.bytes, 'V8 heap used and total of each probed process.')
          .withTarget(prom(`sum by (env, service, type) (redline_nodejs_heap_bytes{${P}})`, '{{service}} {{type}} {{env}}'))
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        ts('Process memory (probe)', U.bytes, 'RSS, external and array-buffer memory as each probed process reports it.')
          .withTarget(prom(`sum by (env, service, type) (redline_nodejs_memory_bytes{${P}})`, '{{service}} {{type}} {{env}}'))
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        ts('Event-loop lag mean', U.seconds, 'Mean event-loop delay over each probe interval: compare with p99 to see whether the lag is steady or in bursts.')
          .withTarget(prom(`max by (env, service, pid) (redline_nodejs_eventloop_lag_mean_seconds{${P}})`, '{{service}} pid {{pid}} {{env}}'))
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        ts('Active requests', U.short, 'Active libuv requests (file system, DNS, crypto work in the thread pool) of each probed process: a climbing count means the 4-thread pool is the queue.')
          .withTarget(prom(`sum by (env, service, pid) (redline_nodejs_active_requests{${P}})`, '{{service}} pid {{pid}} {{env}}'))
          .decimals(0)
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        ts('Active handles', U.short, 'Active libuv handles (sockets, timers, servers) of each probed process: handles growing with the load are connections held open.')
          .withTarget(prom(`sum by (env, service, pid) (redline_nodejs_active_handles{${P}})`, '{{service}} pid {{pid}} {{env}}'))
          .decimals(0)
          .axisSoftMin(0),
      )
      .withPanel(
        ts('Probe CPU by mode, in cores', U.cores, 'CPU of each probed process as it reports it (user, system).')
          .withTarget(prom(`sum by (env, service, mode) (rate(redline_nodejs_cpu_seconds_total{${P}}[${RI}]))`, '{{service}} {{mode}} {{env}}'))
          .axisSoftMin(0),
      )
      .withRow(new dashboard.RowBuilder('Container limits (cgroups)'))
      .withPanel(
        withLoad(
          ts('CPU against the cgroup quota', U.cores, "CPU of the group's cgroup against its quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us), in cores; without a quota only the usage shows.")
            .withTarget(prom(`sum by (env, group) (rate(redline_cgroup_cpu_seconds_total{${G}}[${RI}]))`, '{{group}} used {{env}}', 'A'))
            .withTarget(prom(`max by (env, group) (redline_cgroup_cpu_limit_cores{${G}})`, '{{group}} quota {{env}}', 'B'))
            .overrideByRegexp('.* quota .*', [
              { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
              { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
            ])
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          rightAxis(
            limitLine(
              ts('CPU throttling', U.percent, `Share of quota periods in which the cgroup was throttled (left, alert at ${LIMITS.cpuThrottledShare * 100}%) and the time it was stopped, in seconds per second (right).`)
                .withTarget(prom(`max by (env, group) (rate(redline_cgroup_cpu_throttled_periods_total{${G}}[${RI}]) / rate(redline_cgroup_cpu_periods_total{${G}}[${RI}]))`, '{{group}} throttled periods {{env}}', 'A'))
                .withTarget(prom(`max by (env, group) (rate(redline_cgroup_cpu_throttled_seconds_total{${G}}[${RI}]))`, 'time: {{group}} throttled {{env}}', 'B'))
                .min(0),
              [LIMITS.cpuThrottledShare, 'red'],
            ),
            '^time: .*',
            U.percent,
            'stopped, s/s',
          ).span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Memory against memory.max', U.bytes, "Memory charged to the group's cgroup (memory.current) and its memory.max; near the limit the kernel reclaims, then OOM-kills.")
            .withTarget(prom(`max by (env, group) (redline_cgroup_memory_bytes{${G}})`, '{{group}} used {{env}}', 'A'))
            .withTarget(prom(`max by (env, group) (redline_cgroup_memory_limit_bytes{${G}})`, '{{group}} memory.max {{env}}', 'B'))
            .overrideByRegexp('.* memory\\.max .*', [
              { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
              { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
            ])
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withRow(new dashboard.RowBuilder('The hosts running the group'))
      .withPanel(
        withLoad(
          ts('Load average per core', U.short, 'Load averages divided by the cores of each host running the group: above 1 more threads want to run than there are cores.')
            .withTarget(prom(onGroupHosts('redline_host_load1', 'redline_host_cpus'), 'load1/core {{instance}}', 'A'))
            .withTarget(prom(onGroupHosts('redline_host_load5', 'redline_host_cpus'), 'load5/core {{instance}}', 'B'))
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Pressure stall (PSI)', U.percent, 'Share of time some tasks on the host were stalled waiting for CPU, memory or I/O (/proc/pressure): the most direct saturation signal the kernel has.')
            .withTarget(prom(`sum by (env, instance, resource) (rate(redline_host_pressure_seconds_total{${sel('kind="some"')}}[${RI}])) and on (env, instance) ${GROUP_HOSTS}`, '{{resource}} {{instance}}'))
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Host memory available', U.bytes, 'Memory available for new work on each host running the group, against its total.')
            .withTarget(prom(`max by (env, instance, type) (redline_host_memory_bytes{${sel('type=~"available|total"')}}) and on (env, instance) ${GROUP_HOSTS}`, '{{type}} {{instance}}'))
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('TCP sockets by state', U.short, 'TCP sockets in use, orphaned and in TIME_WAIT on each host: TIME_WAIT climbing with the load means connections are not reused (ephemeral ports run out next).')
            .withTarget(prom(`max by (env, instance, state) (redline_host_tcp_sockets{${F}}) and on (env, instance) ${GROUP_HOSTS}`, '{{state}} {{instance}}'))
            .axisSoftMin(0),
        ),
      )
      .withPanel(
        withLoad(
          ts('TCP drops', U.ops, 'Per second: accept-queue overflows and drops, packets dropped because a socket backlog or receive queue was full (/proc/net/netstat).')
            .withTarget(prom(`sum by (env, instance) (rate(redline_host_tcp_listen_overflows_total{${F}}[${RI}])) and on (env, instance) ${GROUP_HOSTS}`, 'listen overflows {{instance}}', 'A'))
            .withTarget(prom(`sum by (env, instance) (rate(redline_host_tcp_listen_drops_total{${F}}[${RI}])) and on (env, instance) ${GROUP_HOSTS}`, 'listen drops {{instance}}', 'B'))
            .withTarget(prom(`sum by (env, instance) (rate(redline_host_tcp_backlog_drops_total{${F}}[${RI}])) and on (env, instance) ${GROUP_HOSTS}`, 'backlog drops {{instance}}', 'C'))
            .withTarget(prom(`sum by (env, instance) (rate(redline_host_tcp_rcvq_drops_total{${F}}[${RI}])) and on (env, instance) ${GROUP_HOSTS}`, 'receive-queue drops {{instance}}', 'D'))
            .axisSoftMin(0),
        ),
      )
      .withRow(new dashboard.RowBuilder('Per process (only with --host.per-process)'))
      .withPanel(
        ts('CPU per process, in cores', U.cores, 'Per-process CPU; these series exist only when the agent runs with --host.per-process.')
          .withTarget(prom(`sum by (env, group, pid) (rate(redline_pid_cpu_seconds_total{${G}}[${RI}]))`, '{{group}} pid {{pid}} {{env}}'))
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        limitLine(
          ts('Busiest thread per process', U.cores, 'Busiest thread of each process, in cores (with --host.per-process).')
            .withTarget(prom(`max by (env, group, pid) (redline_pid_busiest_thread_cpu_ratio{${G}})`, '{{group}} pid {{pid}} {{env}}'))
            .axisSoftMin(0),
          [LIMITS.sutThreadCores, 'red'],
        ).span(8),
      )
      .withPanel(
        ts('Open fds per process', U.short, 'Open file descriptors of each process (with --host.per-process).')
          .withTarget(prom(`max by (env, group, pid) (redline_pid_open_fds{${G}})`, '{{group}} pid {{pid}} {{env}}'))
          .axisSoftMin(0)
          .span(8),
      )
  );
}
