/**
 * "Staging vs production": the key panels with every selected environment overlaid in a fixed
 * colour, then one repeated row per environment for true side-by-side columns.
 * Set-up documented in docs/dashboards.md: one Prometheus, `env` as a target label.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { LIMITS } from '../analysis/thresholds.js';
import { baseDashboard, limitLine, prom, RI, sel, ts, U, withLoad } from './common.js';

export const COMPARE_UID = 'redline-compare';

/** Fixed colours per environment name, so staging is always the same colour in every panel. */
export const ENV_COLOURS: Array<[string, string]> = [
  ['staging|stage|stg', 'blue'],
  ['production|prod|prd', 'orange'],
  ['dev|development|test|e2e', 'purple'],
];

function coloured(p: timeseries.PanelBuilder): timeseries.PanelBuilder {
  for (const [re, colour] of ENV_COLOURS) {
    p.overrideByRegexp(`^(${re})$|.* (${re})$`, [{ id: 'color', value: { mode: 'fixed', fixedColor: colour } }]);
  }
  return p;
}

interface KeyPanel {
  title: string;
  unit: string;
  description: string;
  expr: (filter: string) => string;
  limit?: Array<[number, string]>;
}

const KEY_PANELS: KeyPanel[] = [
  {
    title: 'Achieved throughput',
    unit: U.reqps,
    description: 'Requests per second the injectors completed.',
    expr: (f) => `sum by (env) (rate(loadtest_requests_total{${f}}[${RI}]))`,
  },
  {
    title: 'Latency p95',
    unit: U.seconds,
    description: 'p95 request latency measured by the injectors.',
    expr: (f) => `histogram_quantile(0.95, sum by (env, le) (rate(loadtest_request_duration_seconds_bucket{${f}}[${RI}])))`,
  },
  {
    title: 'Error ratio',
    unit: U.percent,
    description: 'Errors as a share of requests.',
    expr: (f) => `sum by (env) (rate(loadtest_errors_total{${f}}[${RI}])) / sum by (env) (rate(loadtest_requests_total{${f}}[${RI}]))`,
    limit: [[0.01, 'orange'], [0.05, 'red']],
  },
  {
    title: 'SUT busiest thread',
    unit: U.cores,
    description: 'CPU the busiest single thread of any SUT group demands (run time plus run-queue wait), in cores: 1 is a saturated single-threaded process.',
    expr: (f) => `max by (env) (redline_process_busiest_thread_cpu_demand_ratio{role="sut", ${f}})`,
    limit: [[LIMITS.sutThreadCores, 'red']],
  },
  {
    title: 'SUT event-loop delay p99',
    unit: U.seconds,
    description: 'Worst time-weighted event-loop delay p99 of any probed SUT process (the delay an arrival at a random moment would meet).',
    expr: (f) => `max by (env) (redline_nodejs_eventloop_delay_seconds{quantile="0.99", role="sut", ${f}})`,
    limit: [[LIMITS.eventLoopLagSeconds, 'orange'], [LIMITS.eventLoopLagCriticalSeconds, 'red']],
  },
  {
    title: 'SUT file descriptors (worst ratio)',
    unit: U.percent,
    description: 'Worst open/limit fd ratio of any SUT process.',
    expr: (f) => `max by (env) (redline_process_fd_ratio{role="sut", ${f}})`,
    limit: [[LIMITS.fdRatio, 'red']],
  },
  {
    title: 'SUT CPU in cores',
    unit: U.cores,
    description: 'CPU of all SUT groups, in cores.',
    expr: (f) => `sum by (env) (rate(redline_process_cpu_seconds_total{role="sut", ${f}}[${RI}]))`,
  },
  {
    title: 'Injector busiest process',
    unit: U.cores,
    description: `CPU the busiest injector process demands (run time plus run-queue wait), in cores; above ${LIMITS.injectorProcessCores} the injector, not the SUT, limits the test.`,
    expr: (f) => `max by (env) (redline_process_busiest_process_cpu_demand_ratio{role="injector", ${f}})`,
    limit: [[LIMITS.injectorProcessCores, 'red']],
  },
];

function keyPanel(k: KeyPanel, filter: string, span: number, withLoadLine: boolean): timeseries.PanelBuilder {
  let p = ts(k.title, k.unit, k.description).withTarget(prom(k.expr(filter), '{{env}}')).axisSoftMin(0).span(span);
  if (k.limit) p = limitLine(p, ...k.limit);
  p = coloured(p);
  return withLoadLine ? withLoad(p) : p;
}

export function compareDashboard(): dashboard.DashboardBuilder {
  let b = baseDashboard(
    'Staging vs production',
    COMPARE_UID,
    'The same key panels for several environments: overlaid in fixed colours, then one column per environment',
  ).withRow(new dashboard.RowBuilder('All selected environments, overlaid'));
  for (const k of KEY_PANELS) b = b.withPanel(keyPanel(k, sel(), 6, false));

  // Side by side: each key panel repeated horizontally, one column per selected environment.
  b = b.withRow(new dashboard.RowBuilder('Side by side: one column per environment'));
  for (const k of KEY_PANELS) {
    b = b.withPanel(
      // full width: Grafana splits a horizontally repeated panel's width among its copies
      keyPanel({ ...k, title: `${k.title} — $env` }, sel(), 24, true).repeat('env').repeatDirection('h').maxPerRow(4),
    );
  }
  // One row per selected env: inside a repeated row $env holds that row's single value.
  const perEnv = new dashboard.RowBuilder('Details — $env').repeat('env');
  for (const k of KEY_PANELS) perEnv.withPanel(keyPanel(k, sel(), 6, true));
  return b.withRow(perEnv);
}
