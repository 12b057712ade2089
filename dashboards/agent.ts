/**
 * "Redline agent": is the observer itself healthy? Statsd intake, rejects by reason, drops,
 * series count, the host collector's cost, scrape time and the agent's own process.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { baseDashboard, F, limitLine, prom, RI, ts, U } from './common.js';

export const AGENT_UID = 'redline-agent';

/**
 * Generic process_*, nodejs_*, up and scrape_* series come from every exporter Prometheus scrapes;
 * keep those of Redline agents only (the targets that serve redline_build_info).
 */
const agentOnly = (vector: string): string => `(${vector} and on (env, instance) redline_build_info)`;

export function agentDashboard(): dashboard.DashboardBuilder {
  return (
    baseDashboard('Redline agent', AGENT_UID, 'Health and cost of each Redline agent: is the observer itself keeping up?')
      .withRow(new dashboard.RowBuilder('Statsd intake'))
      .withPanel(
        ts('Packets received', U.ops, 'Datagrams (UDP, unix datagram) and TCP reads per second, by transport.')
          .withTarget(prom(`sum by (instance, transport) (rate(redline_statsd_packets_total{${F}}[${RI}]))`, '{{instance}} {{transport}}'))
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        ts('Lines received and samples accepted', U.ops, 'Statsd lines per second (valid or not) and samples accepted per second by statsd type.')
          .withTarget(prom(`sum by (instance) (rate(redline_statsd_lines_total{${F}}[${RI}]))`, '{{instance}} lines', 'A'))
          .withTarget(prom(`sum by (instance, type) (rate(redline_statsd_samples_total{${F}}[${RI}]))`, '{{instance}} samples {{type}}', 'B'))
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        ts('Lines rejected, by reason', U.ops, 'Malformed statsd lines per second by reason; nothing of a rejected line is applied. A steady rate means a client sends a format Redline does not read (check the tag-style switches).')
          .withTarget(prom(`sum by (instance, reason) (rate(redline_statsd_line_errors_total{${F}}[${RI}])) > 0`, '{{instance}} {{reason}}'))
          .axisSoftMin(0)
          .span(8),
      )
      .withRow(new dashboard.RowBuilder('Drops and series'))
      .withPanel(
        limitLine(
          ts('Samples dropped, by reason', U.ops, 'Valid samples Redline could not store: series_limit (cardinality above --statsd.max-series), type_conflict, name_conflict. Anything above 0 means panels miss data.')
            .withTarget(prom(`sum by (instance, reason) (rate(redline_statsd_dropped_total{${F}}[${RI}]))`, '{{instance}} {{reason}}'))
            .axisSoftMin(0),
          [0.000001, 'red'],
        ).span(8),
      )
      .withPanel(
        ts('Statsd series, against the cap', U.short, 'Series currently held by statsd type (stacked) and the series cap (dashed).')
          .withTarget(prom(`sum by (instance, type) (redline_statsd_series{${F}})`, '{{instance}} {{type}}', 'A'))
          .withTarget(prom(`max by (instance) (redline_statsd_max_series{${F}})`, 'cap: {{instance}}', 'B'))
          .overrideByRegexp('^cap: .*', [
            { id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } },
            { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
          ])
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        ts('Mapping reloads, by outcome', U.short, 'Reloads of the mapping configuration over the dashboard interval; a failed reload keeps the previous mapping.')
          .withTarget(prom(`sum by (instance, outcome) (increase(redline_config_reloads_total{${F}}[${RI}]))`, '{{instance}} {{outcome}}'))
          .decimals(0)
          .axisSoftMin(0)
          .span(8),
      )
      .withRow(new dashboard.RowBuilder('Cost of observing'))
      .withPanel(
        limitLine(
          ts('Host collector tick duration', U.seconds, 'Wall time of each /proc read tick (--host.interval): it must stay well below the interval.')
            .withTarget(prom(`max by (instance) (redline_host_collector_duration_seconds{${F}})`, '{{instance}} tick', 'A'))
            .withTarget(prom(`sum by (instance) (rate(redline_host_collector_busy_seconds_total{${F}}[${RI}]))`, '{{instance}} busy share', 'B'))
            .overrideByRegexp('.* busy share$', [{ id: 'unit', value: U.percent }, { id: 'custom.axisPlacement', value: 'right' }])
            .axisSoftMin(0),
          [0.5, 'orange'],
          [1, 'red'],
        ).span(8),
      )
      .withPanel(
        ts('Host collector errors and skipped ticks', U.ops, 'Reads that failed for a reason other than a process exiting, by reader, and ticks skipped because the previous one was still running.')
          .withTarget(prom(`sum by (instance, reader) (rate(redline_host_collector_errors_total{${F}}[${RI}]))`, '{{instance}} {{reader}}', 'A'))
          .withTarget(prom(`sum by (instance) (rate(redline_host_collector_skipped_ticks_total{${F}}[${RI}]))`, '{{instance}} skipped ticks', 'B'))
          .axisSoftMin(0)
          .span(8),
      )
      .withPanel(
        limitLine(
          ts('Scrape time', U.seconds, 'Time to render /metrics, as Redline measures it and as Prometheus sees it (scrape_duration_seconds).')
            .withTarget(prom(`max by (instance) (redline_scrape_duration_seconds{${F}})`, '{{instance}} render', 'A'))
            .withTarget(prom(`max by (instance) ${agentOnly(`scrape_duration_seconds{${F}}`)}`, '{{instance}} scrape', 'B'))
            .axisSoftMin(0),
          [0.25, 'orange'],
          [1, 'red'],
        ).span(8),
      )
      .withRow(new dashboard.RowBuilder('The agent process'))
      .withPanel(
        limitLine(
          ts('Agent CPU, in cores', U.cores, 'CPU of the agent process. The agent is single-threaded: near 1 core it starts losing UDP datagrams.')
            .withTarget(prom(`sum by (instance) ${agentOnly(`rate(process_cpu_seconds_total{${F}}[${RI}])`)}`, '{{instance}}'))
            .axisSoftMin(0),
          [0.8, 'red'],
        ).span(6),
      )
      .withPanel(
        ts('Agent memory', U.bytes, 'Resident memory and V8 heap used of the agent.')
          .withTarget(prom(`max by (instance) ${agentOnly(`process_resident_memory_bytes{${F}}`)}`, '{{instance}} resident', 'A'))
          .withTarget(prom(`max by (instance) ${agentOnly(`nodejs_heap_size_used_bytes{${F}}`)}`, '{{instance}} heap used', 'B'))
          .axisSoftMin(0)
          .span(6),
      )
      .withPanel(
        limitLine(
          ts('Agent event-loop lag', U.seconds, 'Event-loop delay of the agent between scrapes (p99 and max, as prom-client measures it): a lagging agent reads statsd late.')
            .withTarget(prom(`max by (instance) ${agentOnly(`nodejs_eventloop_lag_p99_seconds{${F}}`)}`, '{{instance}} p99', 'A'))
            .withTarget(prom(`max by (instance) ${agentOnly(`nodejs_eventloop_lag_max_seconds{${F}}`)}`, '{{instance}} max', 'B'))
            .axisSoftMin(0),
          [0.1, 'red'],
        ).span(6),
      )
      .withPanel(
        ts('Agent up and open fds', U.short, 'Whether Prometheus reaches the agent (up) and the agent\'s open file descriptors.')
          .withTarget(prom(`max by (instance) ${agentOnly(`up{${F}}`)}`, '{{instance}} up', 'A'))
          .withTarget(prom(`max by (instance) ${agentOnly(`process_open_fds{${F}}`)}`, '{{instance}} open fds', 'B'))
          .axisSoftMin(0)
          .span(6),
      )
  );
}
