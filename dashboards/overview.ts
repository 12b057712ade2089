/**
 * "Load test — is it maxed out?": the load on top, then every saturation signal of the system
 * under test on the same time axis, the injector's health, and the knee (throughput and latency
 * against the load rather than against time). The Grafana home dashboard.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as xychart from '@grafana/grafana-foundation-sdk/xychart';
import { VERDICT_STATES } from '../analysis/verdict.js';
import { LIMITS } from '../analysis/thresholds.js';
import { baseDashboard, DS, F, limitLine, LOAD_EXPR, prom, RI, rightAxis, sel, ts, U, withLoad, yesNoStat } from './common.js';

export const OVERVIEW_UID = 'redline-loadtest';

const REQ_RATE = `sum by (env) (rate(loadtest_requests_total{${F}}[${RI}]))`;
const ERR_RATE = `sum by (env) (rate(loadtest_errors_total{${F}}[${RI}]))`;
const quantile = (q: string) =>
  `histogram_quantile(${q}, sum by (env, le) (rate(loadtest_request_duration_seconds_bucket{${F}}[${RI}])))`;

const SUT = sel('role="sut"');
const INJ = sel('role="injector"');
const ALERTS_SEL = 'alertstate="firing", env=~"$env"';

const STATE_TEXT: Record<string, [string, string]> = {
  ok: ['OK: nothing saturated', 'green'],
  sut_saturated: ['SUT saturated', 'red'],
  injector_saturated: ['INJECTOR saturated: results invalid', 'purple'],
  both: ['SUT and INJECTOR saturated', 'purple'],
};

/** The verdict state now: the one `redline_verdict_state{state}` at 1, shown by its name. */
function verdictStat(): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title('Verdict now')
    .description('The analysis stage\'s verdict (redline_verdict_state): ok, SUT saturated, injector saturated (results invalid) or both. It settles within 30 s of an onset and does not flap; the table below says which group and resource, and since when.')
    .datasource(DS)
    .unit(U.short)
    .withTarget(prom(`max by (state) (redline_verdict_state{${F}}) == 1`, '{{state}}'))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(common.BigValueTextMode.Name)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .overrides(
      VERDICT_STATES.map((st) => ({
        matcher: { id: 'byName', options: st },
        properties: [
          { id: 'displayName', value: STATE_TEXT[st]![0] },
          { id: 'color', value: { mode: 'fixed', fixedColor: STATE_TEXT[st]![1] } },
        ],
      })),
    )
    .noValue('no verdict (agent without analysis)')
    .span(12)
    .height(4);
}

function knee(title: string, yName: string, yExpr: string, yUnit: string, description: string): xychart.PanelBuilder {
  // Both queries are joined on time, then each time point becomes one (load, y) point.
  return new xychart.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DS)
    .withTarget(prom(`sum(redline_injector_processes{${F}})`, 'injector processes', 'A'))
    .withTarget(prom(yExpr, yName, 'B'))
    .withTransformation({ id: 'joinByField', options: { byField: 'Time', mode: 'inner' } })
    .mapping(xychart.SeriesMapping.Manual)
    .series([
      new xychart.XYSeriesConfigBuilder()
        .name({ fixed: yName })
        .frame({ matcher: { id: 'byIndex', options: 0 } })
        .x({ matcher: { id: 'byName', options: 'injector processes' } })
        .y({ matcher: { id: 'byName', options: yName } }),
    ])
    .show(xychart.XYShowMode.Points)
    .pointSize({ fixed: 5 })
    .overrideByName('injector processes', [
      { id: 'unit', value: U.processes },
      { id: 'custom.axisLabel', value: 'load: injector processes' },
      { id: 'decimals', value: 0 },
    ])
    .overrideByName(yName, [{ id: 'unit', value: yUnit }, { id: 'custom.axisLabel', value: yName }])
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Single))
    .span(8)
    .height(9);
}

export function overviewDashboard(): dashboard.DashboardBuilder {
  return (
    baseDashboard(
      'Load test — is it maxed out?',
      OVERVIEW_UID,
      'The load against every saturation signal of the system under test and of the injectors, on one time axis, with a verdict on which side gave out first',
    )
      .tags(['redline', 'loadtest', 'overview'])
      .link(
        new dashboard.DashboardLinkBuilder('Redline dashboards')
          .type(dashboard.DashboardLinkType.Dashboards)
          .tags(['redline'])
          .asDropdown(true)
          .includeVars(true)
          .keepTime(true),
      )
      // --- annotations: alerts firing, and each step of the ramp
      .annotation(
        new dashboard.AnnotationQueryBuilder()
          .name('Saturation alerts')
          .datasource(DS)
          .enable(true)
          .iconColor('red')
          .expr(`ALERTS{${ALERTS_SEL}}`)
          .titleFormat('{{alertname}}')
          .textFormat('{{verdict}} {{group}}{{service}} {{instance}}')
          .step('10s'),
      )
      .annotation(
        new dashboard.AnnotationQueryBuilder()
          .name('Ramp steps')
          .datasource(DS)
          .enable(true)
          .iconColor('blue')
          .expr(`${LOAD_EXPR} != ${LOAD_EXPR.replace('}', '} offset 10s')}`)
          .titleFormat('Ramp step: injector processes changed ({{env}})')
          .step('10s'),
      )
      // --- verdict: the analysis stage's verdict series (analysis/), not a count of alerts
      .withRow(new dashboard.RowBuilder('Verdict: which side gave out, which resource, since when'))
      .withPanel(verdictStat())
      .withPanel(
        yesNoStat(
          'SUT saturated',
          `max(redline_saturated{${SUT}}) or vector(0)`,
          'The verdict holds a resource of the system under test saturated now (redline_saturated, with hysteresis: it does not flap): this is the limit you were looking for. The load at which it started is the capacity.',
        ).span(4),
      )
      .withPanel(
        yesNoStat(
          'Injector saturated — results invalid',
          `max(redline_saturated{${INJ}}) or vector(0)`,
          'The verdict holds a resource of an injector saturated now (CPU demand, event loop, fds, schedule misses …): it no longer sends the load it was asked for. Results from this point measure the injector, not the SUT.',
        ).span(4),
      )
      .withPanel(
        yesNoStat(
          'Observer dropping data',
          `count(ALERTS{${ALERTS_SEL}, verdict="observer"}) or vector(0)`,
          'Redline itself drops statsd samples (series cap, type conflicts): some panels are incomplete. See the Redline agent dashboard.',
        ).span(4),
      )
      .withPanel(
        new table.PanelBuilder()
          .title('First saturated resource of each side')
          .description('When the first resource of each role saturated during the run (redline_verdict_onset_timestamp_seconds), which group and which resource: the SUT row is the answer, an injector row marks where results stop being valid.')
          .datasource(DS)
          .unit('dateTimeAsIso')
          .withTarget(prom(`max by (env, role, group, resource) (redline_verdict_onset_timestamp_seconds{${F}}) * 1000`, '{{role}} {{group}} {{resource}}').instant().format(prometheus.PromQueryFormat.Table))
          .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'onset' } } })
          .span(12)
          .height(5),
      )
      .withPanel(
        ts('Saturated now: group and resource', U.short, 'Each resource the verdict holds saturated (redline_saturated = 1), by role, group and resource; the bars start at the onset and stop when it is released.')
          .withTarget(prom(`max by (env, role, group, resource) (redline_saturated{${F}}) == 1`, '{{role}} {{group}} {{resource}}'))
          .drawStyle(common.GraphDrawStyle.Bars)
          .fillOpacity(60)
          .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
          .decimals(0)
          .span(12)
          .height(5),
      )
      .withPanel(
        withLoad(
          limitLine(
            ts('Saturation of every resource (1 = at its limit)', U.percent, 'redline_saturation_ratio of every resource of every group, scaled so that 1 is its limit (docs/analysis.md lists how each is measured). The first line to reach its threshold at the step where throughput stops following the load is what gave out.')
              .withTarget(prom(`max by (env, role, group, resource) (redline_saturation_ratio{${F}})`, '{{role}} {{group}} {{resource}}'))
              .min(0)
              .axisSoftMax(1.05),
            [LIMITS.injectorProcessCores, 'orange'],
            [1, 'red'],
          ).span(12),
        ),
      )
      .withPanel(
        ts('Rules firing now', U.short, 'Each firing Redline alert (dashboards/rules.ts), by rule, verdict and what it is about; verdict=host means a host-wide condition that no watched group explains.')
          .withTarget(prom(`count by (alertname, verdict, group, service, instance) (ALERTS{${ALERTS_SEL}})`, '{{alertname}} {{verdict}} {{group}}{{service}}'))
          .drawStyle(common.GraphDrawStyle.Bars)
          .fillOpacity(60)
          .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
          .decimals(0)
          .span(12)
          .height(4),
      )
      // --- the load and what it produced
      .withRow(new dashboard.RowBuilder('Load and results'))
      .withPanel(
        rightAxis(
          ts('Load: injector processes and active users', U.processes, 'Injector processes (step line, from the host collector) and the active users or scenarios the injectors report (loadtest_active_users).')
            .withTarget(prom(LOAD_EXPR, 'injector processes {{env}}', 'A'))
            .withTarget(prom(`sum by (env) (loadtest_active_users{${F}})`, 'users: active {{env}}', 'B'))
            .lineInterpolation(common.LineInterpolation.StepAfter)
            .decimals(0)
            .axisLabel('injector processes')
            .axisSoftMin(0),
          '^users: .*',
          U.short,
          'active users',
        ),
      )
      .withPanel(
        ts('Throughput: offered vs achieved', U.reqps, 'Achieved request rate against the rate the injectors were asked to produce. When achieved stops following offered, something saturated.')
          .withTarget(prom(REQ_RATE, 'achieved {{env}}', 'A'))
          .withTarget(prom(`sum by (env) (loadtest_offered_rate{${F}})`, 'offered {{env}}', 'B'))
          .overrideByRegexp('^offered .*', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 6] } }])
          .axisSoftMin(0),
      )
      .withPanel(
        withLoad(
          ts('Latency p50 / p95 / p99', U.seconds, 'Request latency as the injectors measured it (loadtest_request_duration_seconds histogram).')
            .withTarget(prom(quantile('0.5'), 'p50 {{env}}', 'A'))
            .withTarget(prom(quantile('0.95'), 'p95 {{env}}', 'B'))
            .withTarget(prom(quantile('0.99'), 'p99 {{env}}', 'C'))
            .axisSoftMin(0),
        ),
      )
      .withPanel(
        withLoad(
          limitLine(
            ts('Error rate', U.percent, 'Errors as a share of requests (loadtest_errors_total / loadtest_requests_total); errors/s on the table.')
              .withTarget(prom(`${ERR_RATE} / ${REQ_RATE}`, 'error ratio {{env}}', 'A'))
              .axisSoftMin(0)
              .axisSoftMax(0.05),
            [0.01, 'orange'],
            [0.05, 'red'],
          ),
        ),
      )
      // --- the SUT's saturation signals, each with the load
      .withRow(new dashboard.RowBuilder('SUT saturation: CPU'))
      .withPanel(
        withLoad(
          ts('SUT CPU in cores, against the cores available', U.cores, 'CPU used by each SUT group, in cores, and the cores of each host running the SUT. A group flat below the cores line while latency climbs is limited by something else (a single thread, the event loop, a lock).')
            .withTarget(prom(`sum by (env, group) (rate(redline_process_cpu_seconds_total{${SUT}}[${RI}]))`, '{{group}} {{env}}', 'A'))
            .withTarget(
              prom(
                `max by (env, instance) (redline_host_cpus{${F}}) and on (env, instance) (count by (env, instance) (redline_process_count{${SUT}} > 0))`,
                'cores available {{instance}}',
                'B',
              ),
            )
            .overrideByRegexp('^cores available .*', [
              { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
              { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
              { id: 'custom.fillOpacity', value: 0 },
            ])
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          limitLine(
            ts('Busiest thread of each SUT group, against 1 core', U.cores, 'The busiest single thread of each group: CPU it demands (run time plus run-queue wait, what the alert reads) and CPU it receives. At 1 core a single-threaded process (a Node main thread, a Python worker) is saturated however idle the host is; demand above received means busy neighbours starve it.')
              .withTarget(prom(`max by (env, group) (redline_process_busiest_thread_cpu_demand_ratio{${SUT}})`, '{{group}} demand {{env}}', 'A'))
              .withTarget(prom(`max by (env, group) (redline_process_busiest_thread_cpu_ratio{${SUT}})`, '{{group}} received {{env}}', 'B'))
              .overrideByRegexp('.* received .*', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } }])
              .axisSoftMin(0)
              .axisSoftMax(1.05),
            [LIMITS.sutThreadCores, 'orange'],
            [1, 'red'],
          ).span(8),
        ),
      )
      .withPanel(
        withLoad(
          limitLine(
            ts('Host CPU busy (hosts running the SUT)', U.percent, 'Share of all cores busy (everything but idle and iowait) on each host that runs a SUT group.')
              .withTarget(
                prom(
                  `sum by (env, instance) (rate(redline_host_cpu_seconds_total{${sel('mode!~"idle|iowait"')}}[${RI}])) / on (env, instance) max by (env, instance) (redline_host_cpus{${F}}) and on (env, instance) (count by (env, instance) (redline_process_count{${SUT}} > 0))`,
                  '{{instance}}',
                ),
              )
              .min(0)
              .max(1),
            [LIMITS.hostCpuBusy, 'red'],
          ).span(8),
        ),
      )
      .withRow(new dashboard.RowBuilder('SUT saturation: event loop'))
      .withPanel(
        withLoad(
          limitLine(
            ts('Event-loop delay p99 and stalls (SUT)', U.seconds, 'Per probe interval of each probed SUT service: the delay p99 a request arriving at a random moment would have met (time-weighted: intermittent stalls count), the per-timer lag p99, and how long the loop has been stuck right now (the watchdog). Around 1 s health checks fail and the process is taken out of rotation.')
              .withTarget(prom(`max by (env, service) (redline_nodejs_eventloop_delay_seconds{${sel('quantile="0.99", role="sut"')}})`, '{{service}} delay p99 {{env}}', 'A'))
              .withTarget(prom(`max by (env, service) (redline_nodejs_eventloop_lag_seconds{${sel('quantile="0.99", role="sut"')}})`, '{{service}} timer lag p99 {{env}}', 'B'))
              .withTarget(prom(`max by (env, service) (redline_nodejs_eventloop_stalled_seconds{${SUT}})`, '{{service}} stuck for {{env}}', 'C'))
              .overrideByRegexp('.* stuck for .*', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }])
              .axisSoftMin(0),
            [LIMITS.eventLoopLagSeconds, 'orange'],
            [LIMITS.eventLoopLagCriticalSeconds, 'red'],
          ),
        ),
      )
      .withPanel(
        withLoad(
          limitLine(
            ts('Event-loop utilisation and blocked share (SUT)', U.percent, 'Share of each interval the event loop was busy, and the share it was blocked (time-weighted: a 150 ms stall each second reads 15%). Near 1 the loop has no idle time left: more load only queues.')
              .withTarget(prom(`max by (env, service) (redline_nodejs_eventloop_utilization{${SUT}})`, '{{service}} utilisation {{env}}', 'A'))
              .withTarget(prom(`max by (env, service) (redline_nodejs_eventloop_blocked_ratio{${SUT}})`, '{{service}} blocked {{env}}', 'B'))
              .min(0)
              .max(1),
            [LIMITS.eventLoopUtilisation, 'red'],
          ),
        ),
      )
      .withRow(new dashboard.RowBuilder('SUT saturation: file descriptors, threads, memory maps'))
      .withPanel(
        withLoad(
          rightAxis(
            limitLine(
              ts('Open file descriptors against the limit', U.percent, 'The worst open/limit ratio of any process in the group (left, thresholds at 80% and 100%) and the open fds summed over the group (right).')
                .withTarget(prom(`max by (env, group) (redline_process_fd_ratio{${SUT}})`, '{{group}} {{env}} fd ratio', 'A'))
                .withTarget(prom(`sum by (env, group) (redline_process_open_fds{${SUT}})`, 'fds: {{group}} {{env}} open', 'B'))
                .min(0)
                .max(1),
              [LIMITS.fdRatio, 'orange'],
              [1, 'red'],
            ),
            '^fds: .*',
            U.short,
            'open fds',
          ).span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Threads', U.short, 'Threads summed over each SUT group. Thread pools that grow with the load show here; a flat count with climbing latency means the pool is full.')
            .withTarget(prom(`sum by (env, group) (redline_process_threads{${SUT}})`, '{{group}} {{env}}'))
            .decimals(0)
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          rightAxis(
            ts('Memory maps', U.short, 'Memory mappings summed over the group (left) and the worst ratio to vm.max_map_count (right): climbing maps mean buffers, threads or mmapped files piling up.')
              .withTarget(prom(`sum by (env, group) (redline_process_memory_maps{${SUT}})`, '{{group}} {{env}}', 'A'))
              .withTarget(prom(`max by (env, group) (redline_process_memory_maps_ratio{${SUT}})`, 'ratio: {{group}} {{env}}', 'B'))
              .withTarget(prom(`vector(${LIMITS.memoryMapsRatio})`, `ratio: alert at ${LIMITS.memoryMapsRatio * 100}%`, 'C'))
              .overrideByRegexp('^ratio: alert .*', [
                { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
                { id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } },
              ])
              .axisSoftMin(0),
            '^ratio: .*',
            U.percent,
            'of vm.max_map_count',
          ).span(8),
        ),
      )
      .withRow(new dashboard.RowBuilder('SUT saturation: scheduling and the accept queue'))
      .withPanel(
        withLoad(
          ts('Context switches', U.ops, 'Voluntary (waiting for I/O or a lock) and involuntary (preempted: more runnable threads than cores) context switches per second, summed over each SUT group. Involuntary switches climbing means CPU contention.')
            .withTarget(prom(`sum by (env, group, type) (rate(redline_process_context_switches_total{${SUT}}[${RI}]))`, '{{group}} {{type}} {{env}}'))
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Accept-queue depth against the backlog', U.short, 'Connections waiting to be accepted on each SUT listening port, and the backlog limit (dashed). At the limit the kernel drops new connections.')
            .withTarget(prom(`max by (env, group, port) (redline_listen_queue_length{${SUT}})`, '{{group}}:{{port}} queued {{env}}', 'A'))
            .withTarget(prom(`max by (env, group, port) (redline_listen_queue_limit{${SUT}})`, '{{group}}:{{port}} backlog {{env}}', 'B'))
            .overrideByRegexp('.* backlog .*', [
              { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
              { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
            ])
            .decimals(0)
            .axisSoftMin(0)
            .span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Listen overflows and drops', U.ops, 'Times per second a full accept queue turned a connection away (TcpExt ListenOverflows / ListenDrops), per host. Any value above 0 means clients see timeouts or refused connections.')
            .withTarget(prom(`sum by (env, instance) (rate(redline_host_tcp_listen_overflows_total{${F}}[${RI}]))`, 'overflows {{instance}}', 'A'))
            .withTarget(prom(`sum by (env, instance) (rate(redline_host_tcp_listen_drops_total{${F}}[${RI}]))`, 'drops {{instance}}', 'B'))
            .withTarget(prom(`sum by (env) (rate(loadtest_slow_connects_total{${F}}[${RI}]))`, 'client side: connects ≥ 0.9 s {{env}}', 'C'))
            .axisSoftMin(0)
            .span(8),
        ),
      )
      // --- what a load balancer's health check sees (the agent's --probe.http)
      .withRow(new dashboard.RowBuilder('Outside view: health checks (--probe.http)'))
      .withPanel(
        withLoad(
          limitLine(
            ts('Health-check latency p99', U.seconds, 'Latency of the agent\'s HTTP probe of each target (--probe.http NAME=URL), as a load balancer\'s health check sees it. Around 3 s of event-loop lag, checks time out and the instance is pulled from rotation.')
              .withTarget(prom(`histogram_quantile(0.99, sum by (env, target, le) (rate(redline_probe_http_duration_seconds_bucket{${F}}[${RI}])))`, '{{target}} p99 {{env}}'))
              .axisSoftMin(0),
            [1, 'orange'],
            [3, 'red'],
          ),
        ),
      )
      .withPanel(
        withLoad(
          ts('Health checks by outcome', U.ops, 'Probe requests per second by outcome (2xx, 5xx, timeout, refused, error): anything but 2xx/3xx is what a load balancer counts against the instance.')
            .withTarget(prom(`sum by (env, target, outcome) (rate(redline_probe_http_requests_total{${F}}[${RI}]))`, '{{target}} {{outcome}} {{env}}'))
            .overrideByRegexp('.* (timeout|refused|error|5xx|4xx) .*', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }])
            .axisSoftMin(0),
        ),
      )
      // --- is the injector still producing the load?
      .withRow(new dashboard.RowBuilder('Injector health: is the load what it was asked to be?'))
      .withPanel(
        withLoad(
          limitLine(
            ts('Injector CPU per process, against its limit', U.cores, `The busiest process of each injector group in cores: CPU it demands (run time plus run-queue wait, what the alert reads) and CPU it receives, and the whole group. Single-threaded injectors (Locust and gevent workers, Node scripts) cap at 1 core and stop producing the asked-for load above ~${LIMITS.injectorProcessCores}; one starved by a busy host is as invalid.`)
              .withTarget(prom(`max by (env, group) (redline_process_busiest_process_cpu_demand_ratio{${INJ}})`, '{{group}} busiest process demand {{env}}', 'C'))
              .withTarget(prom(`max by (env, group) (redline_process_busiest_process_cpu_ratio{${INJ}})`, '{{group}} busiest process {{env}}', 'A'))
              .withTarget(prom(`sum by (env, group) (redline_injector_cpu_cores{${F}})`, '{{group}} all processes {{env}}', 'B'))
              .axisSoftMin(0)
              .axisSoftMax(1.05),
            [LIMITS.injectorProcessCores, 'red'],
          ).span(8),
        ),
      )
      .withPanel(
        withLoad(
          limitLine(
            ts('Injector event-loop delay p99', U.seconds, 'Event-loop delay of probed Node injectors (time-weighted p99 and per-timer lag p99): a lagging injector sends late and measures its own queueing as latency.')
              .withTarget(prom(`max by (env, service) (redline_nodejs_eventloop_delay_seconds{${sel('quantile="0.99", role="injector"')}})`, '{{service}} delay p99 {{env}}', 'A'))
              .withTarget(prom(`max by (env, service) (redline_nodejs_eventloop_lag_seconds{${sel('quantile="0.99", role="injector"')}})`, '{{service}} timer lag p99 {{env}}', 'B'))
              .axisSoftMin(0),
            [LIMITS.eventLoopLagSeconds, 'red'],
          ).span(8),
        ),
      )
      .withPanel(
        withLoad(
          ts('Scenarios dropped by the injectors', U.ops, 'Scenarios an injector should have started but could not, per second (loadtest_scenarios_total{outcome="dropped"}): above 0 the injector is behind its schedule and the offered load is lower than asked.')
            .withTarget(prom(`sum by (env) (rate(loadtest_scenarios_total{${sel('outcome="dropped"')}}[${RI}]))`, 'dropped {{env}}'))
            .overrideByRegexp('^dropped .*', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }])
            .axisSoftMin(0)
            .span(12),
        ),
      )
      .withPanel(
        ts('Injector processes', U.processes, 'Injector processes running, by injector group (the ramp).')
          .withTarget(prom(`sum by (env, group) (redline_injector_processes{${F}})`, '{{group}} {{env}}'))
          .lineInterpolation(common.LineInterpolation.StepAfter)
          .decimals(0)
          .axisSoftMin(0)
          .span(12),
      )
      // --- the knee
      .withRow(new dashboard.RowBuilder('Knee: results against the load, not against time'))
      .withPanel(
        knee('Throughput against injector processes', 'requests/s', `sum(rate(loadtest_requests_total{${F}}[${RI}]))`, U.reqps, 'Each point is one moment of the test: x the injector processes running, y the achieved throughput. The knee is where adding processes stops adding throughput.'),
      )
      .withPanel(
        knee('Latency p95 against injector processes', 'p95 latency', `histogram_quantile(0.95, sum by (le) (rate(loadtest_request_duration_seconds_bucket{${F}}[${RI}])))`, U.seconds, 'Past the knee, latency climbs with each added injector process while throughput stays flat.'),
      )
      .withPanel(
        ts('Throughput per injector process and achieved / offered', U.reqps, 'Achieved requests/s divided by injector processes (left) and achieved over offered rate (right). Both stay flat while the system keeps up and fall at the knee, in time order.')
          .withTarget(prom(`${REQ_RATE} / on (env) ${LOAD_EXPR}`, 'per process {{env}}', 'A'))
          .withTarget(prom(`${REQ_RATE} / on (env) sum by (env) (loadtest_offered_rate{${F}})`, 'ratio: achieved / offered {{env}}', 'B'))
          .overrideByRegexp('^ratio: .*', [
            { id: 'unit', value: U.percent },
            { id: 'custom.axisPlacement', value: 'right' },
            { id: 'custom.axisLabel', value: 'achieved / offered' },
          ])
          .axisSoftMin(0)
          .span(8)
          .height(9),
      )
  );
}
