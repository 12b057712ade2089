/**
 * The one list of Redline's recording and alerting rules. From it come:
 *   - provisioning/prometheus/rules/redline.rules.yml   (Prometheus rules)
 *   - provisioning/prometheus/tests/redline.rules.test.yml (promtool unit tests: each alert fires
 *     on one input and stays quiet on another)
 *   - provisioning/grafana/alerting/redline-rules.yaml  (the same alerts, Grafana-managed)
 *
 * Every alert carries a `verdict` label (`sut`, `injector`, `observer`, or the process role for
 * per-group rules) so the overview dashboard can say which side gave out.
 * Annotation templates use only `{{ $labels.x }}`, which Prometheus and Grafana both understand
 * and which the generated promtool tests can expand exactly.
 */
import { LIMITS } from '../analysis/thresholds.js';

export type Severity = 'warning' | 'critical';

export interface RecordingRule {
  record: string;
  expr: string;
  help: string;
}

export interface TestSeries {
  series: string;
  values: string;
}

export interface AlertCase {
  /** What the case shows, written into the test file as a comment-like name. */
  name: string;
  series: TestSeries[];
  /** Seconds from the start at which to check. */
  evalSeconds: number;
  /** Label sets (without alertname, severity, verdict from the rule) expected firing; empty = quiet. */
  firing: Array<Record<string, string>>;
}

export interface AlertRule {
  alert: string;
  /** Grafana rule uid (<= 40 chars, [A-Za-z0-9_-]). */
  uid: string;
  title: string;
  /** A PromQL expression that returns the offending series only while the condition holds. */
  expr: string;
  for: string;
  severity: Severity;
  /** Static verdict label, or undefined when the expression sets `verdict` itself. */
  verdict?: 'sut' | 'injector' | 'observer';
  summary: string;
  /** What it means and what to look at next. */
  description: string;
  cases: AlertCase[];
}

/** Labels Prometheus adds to every scraped series in the tests (target labels). */
const T = 'env="staging", instance="sut-host:9102", job="redline"';
const TL = { env: 'staging', instance: 'sut-host:9102', job: 'redline' };

export const RECORDING_RULES: RecordingRule[] = [
  {
    record: 'instance:redline_host_cpu_busy:ratio',
    // idle and iowait are time the CPUs could have run something; steal is time they could not.
    expr: 'sum without (mode) (rate(redline_host_cpu_seconds_total{mode!~"idle|iowait"}[1m])) / redline_host_cpus',
    help: 'Share of the host CPUs busy over the last minute (0-1).',
  },
];

export const ALERT_RULES: AlertRule[] = [
  {
    alert: 'RedlineEventLoopLagHigh',
    uid: 'redline-eventloop-lag-high',
    title: 'Event-loop lag p99 high',
    expr: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role!="injector"} >= ${LIMITS.eventLoopLagSeconds}`,
    for: '1m',
    severity: 'warning',
    verdict: 'sut',
    summary: 'Event-loop lag p99 of {{ $labels.service }} (pid {{ $labels.pid }}) is at least 100 ms',
    description:
      'Every request to this Node process waits this long before its code even starts. It is the first sign of a saturated single-threaded service. ' +
      'Look next at the busiest thread of its group (near 1 core means CPU-bound on the main thread), event-loop utilisation and GC pauses on the Process detail dashboard.',
    cases: [
      {
        name: 'sut lagging 250 ms for 2 minutes fires; an injector lagging does not',
        series: [
          { series: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="sut", service="api", pid="42", group="api", ${T}}`, values: '0.25x12' },
          { series: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="injector", service="load", pid="43", ${T}}`, values: '0.25x12' },
        ],
        evalSeconds: 120,
        firing: [{ quantile: '0.99', role: 'sut', service: 'api', pid: '42', group: 'api', ...TL }],
      },
      {
        name: 'lag above the threshold for less than the 1m hold stays pending',
        series: [{ series: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="sut", service="api", pid="42", ${T}}`, values: '0.25x12' }],
        evalSeconds: 30,
        firing: [],
      },
      {
        name: '62.5 ms of lag stays quiet',
        series: [{ series: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="sut", service="api", pid="42", ${T}}`, values: '0.0625x12' }],
        evalSeconds: 120,
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineEventLoopLagCritical',
    uid: 'redline-eventloop-lag-critical',
    title: 'Event-loop lag p99 above 1 s',
    expr: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role!="injector"} >= ${LIMITS.eventLoopLagCriticalSeconds}`,
    for: '30s',
    severity: 'critical',
    verdict: 'sut',
    summary: 'Event-loop lag p99 of {{ $labels.service }} (pid {{ $labels.pid }}) is at least 1 s',
    description:
      'At this lag health checks start timing out and a load balancer will pull the process out of rotation, shifting its load onto the others. ' +
      'The service is past its breaking point: note the load on the overview dashboard at which this began; that is the capacity.',
    cases: [
      {
        name: '1.5 s of lag fires',
        series: [{ series: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="sut", service="api", pid="42", ${T}}`, values: '1.5x12' }],
        evalSeconds: 60,
        firing: [{ quantile: '0.99', role: 'sut', service: 'api', pid: '42', ...TL }],
      },
      {
        name: '500 ms of lag stays quiet',
        series: [{ series: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="sut", service="api", pid="42", ${T}}`, values: '0.5x12' }],
        evalSeconds: 60,
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineEventLoopSaturated',
    uid: 'redline-eventloop-saturated',
    title: 'Event loop saturated',
    expr: `redline_nodejs_eventloop_utilization{role!="injector"} >= ${LIMITS.eventLoopUtilisation}`,
    for: '1m',
    severity: 'warning',
    verdict: 'sut',
    summary: 'Event loop of {{ $labels.service }} (pid {{ $labels.pid }}) is busy at least 90% of the time',
    description:
      'The loop has almost no idle time left: more load only adds queueing, so latency climbs while throughput stays flat. ' +
      'Look next at the knee view of the overview dashboard and at CPU of the busiest thread; GC pauses show whether memory pressure is part of it.',
    cases: [
      {
        name: 'utilisation 0.96875 fires',
        series: [{ series: `redline_nodejs_eventloop_utilization{role="sut", service="api", pid="42", ${T}}`, values: '0.96875x12' }],
        evalSeconds: 120,
        firing: [{ role: 'sut', service: 'api', pid: '42', ...TL }],
      },
      {
        name: 'utilisation 0.5 stays quiet',
        series: [{ series: `redline_nodejs_eventloop_utilization{role="sut", service="api", pid="42", ${T}}`, values: '0.5x12' }],
        evalSeconds: 120,
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineSutCpuSaturated',
    uid: 'redline-sut-cpu-saturated',
    title: 'SUT CPU saturated',
    expr:
      `redline_process_busiest_thread_cpu_ratio{role="sut"} >= ${LIMITS.sutThreadCores}` +
      ` or (instance:redline_host_cpu_busy:ratio >= ${LIMITS.hostCpuBusy} and on (env, instance) (redline_process_count{role="sut"} > 0))`,
    for: '1m',
    severity: 'warning',
    verdict: 'sut',
    summary: 'CPU of the system under test is saturated (group {{ $labels.group }} on {{ $labels.instance }})',
    description:
      'Either one thread of the group uses at least 0.9 of a core (a single-threaded process cannot go faster, however idle the other cores are), ' +
      'or the whole host running the SUT is at least 90% busy. Look next at throughput against load (the knee) and at event-loop lag of the same group.',
    cases: [
      {
        name: 'busiest thread at 0.96875 core fires',
        series: [{ series: `redline_process_busiest_thread_cpu_ratio{group="api", role="sut", ${T}}`, values: '0.96875x12' }],
        evalSeconds: 120,
        firing: [{ group: 'api', role: 'sut', ...TL }],
      },
      {
        name: 'a host 95% busy that runs the SUT fires',
        series: [
          // 2 cores; idle grows by 1.5 s per 15 s = 0.1 core -> 95% busy
          { series: `redline_host_cpu_seconds_total{mode="idle", ${T}}`, values: '0+1.5x12' },
          { series: `redline_host_cpu_seconds_total{mode="user", ${T}}`, values: '0+28.5x12' },
          { series: `redline_host_cpus{${T}}`, values: '2x12' },
          { series: `redline_process_count{group="api", role="sut", ${T}}`, values: '1x12' },
          { series: `redline_process_busiest_thread_cpu_ratio{group="api", role="sut", ${T}}`, values: '0.5x12' },
        ],
        evalSeconds: 150,
        firing: [TL],
      },
      {
        name: 'busiest thread at half a core on an idle host stays quiet',
        series: [
          { series: `redline_process_busiest_thread_cpu_ratio{group="api", role="sut", ${T}}`, values: '0.5x12' },
          { series: `redline_host_cpu_seconds_total{mode="idle", ${T}}`, values: '0+15x12' },
          { series: `redline_host_cpu_seconds_total{mode="user", ${T}}`, values: '0+15x12' },
          { series: `redline_host_cpus{${T}}`, values: '2x12' },
          { series: `redline_process_count{group="api", role="sut", ${T}}`, values: '1x12' },
        ],
        evalSeconds: 150,
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineInjectorSaturated',
    uid: 'redline-injector-saturated',
    title: 'Injector saturated — results invalid',
    expr:
      `redline_process_busiest_process_cpu_ratio{role="injector"} >= ${LIMITS.injectorProcessCores}` +
      ` or redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="injector"} >= ${LIMITS.eventLoopLagSeconds}`,
    for: '30s',
    severity: 'critical',
    verdict: 'injector',
    summary: 'The load injector {{ $labels.group }}{{ $labels.service }} is saturated: the test measures the injector, not the SUT',
    description:
      'An injector process uses at least 0.8 of a core, or its event loop lags 100 ms or more: it no longer sends the load it was asked for, ' +
      'and latencies it reports include its own queueing. Results from this point are invalid. Add injector processes or hosts (compare offered and achieved rate), then rerun.',
    cases: [
      {
        name: 'an injector process at 0.875 core fires',
        series: [{ series: `redline_process_busiest_process_cpu_ratio{group="locust", role="injector", ${T}}`, values: '0.875x12' }],
        evalSeconds: 60,
        firing: [{ group: 'locust', role: 'injector', ...TL }],
      },
      {
        name: 'a Node injector whose loop lags 250 ms fires',
        series: [{ series: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="injector", service="load", pid="7", ${T}}`, values: '0.25x12' }],
        evalSeconds: 60,
        firing: [{ quantile: '0.99', role: 'injector', service: 'load', pid: '7', ...TL }],
      },
      {
        name: 'an injector at half a core with a calm loop stays quiet',
        series: [
          { series: `redline_process_busiest_process_cpu_ratio{group="locust", role="injector", ${T}}`, values: '0.5x12' },
          { series: `redline_nodejs_eventloop_lag_seconds{quantile="0.99", role="injector", service="load", pid="7", ${T}}`, values: '0.0625x12' },
        ],
        evalSeconds: 60,
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineFileDescriptorsNearLimit',
    uid: 'redline-fds-near-limit',
    title: 'File descriptors near the limit',
    // The verdict follows the role of the group: an injector out of fds is the injector's limit.
    expr: `label_replace(redline_process_fd_ratio >= ${LIMITS.fdRatio}, "verdict", "$1", "role", "(.+)")`,
    for: '1m',
    severity: 'warning',
    summary: 'A process of {{ $labels.group }} ({{ $labels.role }}) uses at least 80% of its file descriptor limit',
    description:
      'Open connections or files pile up faster than they close; at the limit accept() and open() fail with EMFILE and clients see resets. ' +
      'Look next at open fds against the load (does each new injector step add a fixed number?) and at the accept queue; raise the limit (ulimit -n) only once you know why they pile up.',
    cases: [
      {
        name: 'fd ratio 0.875 fires with the role as verdict',
        series: [{ series: `redline_process_fd_ratio{group="api", role="sut", ${T}}`, values: '0.875x12' }],
        evalSeconds: 120,
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'fd ratio 0.5 stays quiet',
        series: [{ series: `redline_process_fd_ratio{group="api", role="sut", ${T}}`, values: '0.5x12' }],
        evalSeconds: 120,
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineAcceptQueueOverflowing',
    uid: 'redline-accept-queue-overflowing',
    title: 'Accept queue overflowing',
    expr:
      'increase(redline_host_tcp_listen_overflows_total[1m]) > 0' +
      ' or (redline_listen_queue_length >= redline_listen_queue_limit and redline_listen_queue_limit > 0)',
    for: '0s',
    severity: 'critical',
    verdict: 'sut',
    summary: 'TCP accept queue full on {{ $labels.instance }} {{ $labels.group }} {{ $labels.port }}',
    description:
      'The kernel has connections the application has not accept()ed yet and the queue is full: new clients see timeouts, retransmitted SYNs or ECONNREFUSED, ' +
      'which the injector reports as errors or long connect times. The application is not accepting fast enough (a busy event loop, all workers busy) ' +
      'or its listen backlog is small. Look next at event-loop lag and CPU of the group that owns the port.',
    cases: [
      {
        name: 'listen overflows counting up fires',
        series: [{ series: `redline_host_tcp_listen_overflows_total{${T}}`, values: '0+5x12' }],
        evalSeconds: 60,
        firing: [TL],
      },
      {
        name: 'a queue at its limit fires',
        series: [
          { series: `redline_listen_queue_length{group="api", role="sut", port="8080", ${T}}`, values: '512x12' },
          { series: `redline_listen_queue_limit{group="api", role="sut", port="8080", ${T}}`, values: '511x12' },
        ],
        evalSeconds: 60,
        firing: [{ group: 'api', role: 'sut', port: '8080', ...TL }],
      },
      {
        name: 'no overflows and a short queue stay quiet',
        series: [
          { series: `redline_host_tcp_listen_overflows_total{${T}}`, values: '7x12' },
          { series: `redline_listen_queue_length{group="api", role="sut", port="8080", ${T}}`, values: '3x12' },
          { series: `redline_listen_queue_limit{group="api", role="sut", port="8080", ${T}}`, values: '511x12' },
        ],
        evalSeconds: 60,
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineDroppingStatsdLines',
    uid: 'redline-dropping-statsd',
    title: 'Redline dropping statsd samples',
    expr: 'increase(redline_statsd_dropped_total[1m]) > 0',
    for: '0s',
    severity: 'warning',
    verdict: 'observer',
    summary: 'Redline on {{ $labels.instance }} is dropping statsd samples ({{ $labels.reason }})',
    description:
      'Valid samples could not be stored: series_limit means more distinct series than --statsd.max-series (often a request id or URL used as a tag), ' +
      'type_conflict means one name sent as two statsd types. The dashboards miss that data. Look next at the Redline agent dashboard (series by type, drops by reason).',
    cases: [
      {
        name: 'drops counting up fire',
        series: [{ series: `redline_statsd_dropped_total{reason="series_limit", ${T}}`, values: '0+10x12' }],
        evalSeconds: 60,
        firing: [{ reason: 'series_limit', ...TL }],
      },
      {
        name: 'a flat drop counter stays quiet',
        series: [{ series: `redline_statsd_dropped_total{reason="series_limit", ${T}}`, values: '10x12' }],
        evalSeconds: 60,
        firing: [],
      },
    ],
  },
];

export const RULE_GROUP = 'redline-saturation';
/** Rule evaluation interval: a few scrapes, so a saturated step of a ramp is caught within it. */
export const EVAL_INTERVAL = '5s';

const HEADER = '# generated by `npm run dashboards` from dashboards/rules.ts — do not edit\n';

/** Expands `{{ $labels.x }}` the way Prometheus and Grafana do for the labels given. */
export function expandTemplate(template: string, labels: Record<string, string>): string {
  return template.replace(/\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, k: string) => labels[k] ?? '');
}

function ruleLabels(r: AlertRule): Record<string, string> {
  return r.verdict ? { severity: r.severity, verdict: r.verdict } : { severity: r.severity };
}

/**
 * Prometheus rule groups. `forOverride` replaces every `for:` (the end-to-end test uses a short
 * one so that it can drive each alert within seconds).
 */
export function prometheusRules(opts: { forOverride?: string; interval?: string } = {}): object {
  return {
    groups: [
      {
        name: RULE_GROUP,
        interval: opts.interval ?? EVAL_INTERVAL,
        rules: [
          ...RECORDING_RULES.map((r) => ({ record: r.record, expr: r.expr })),
          ...ALERT_RULES.map((r) => ({
            alert: r.alert,
            expr: r.expr,
            for: opts.forOverride ?? r.for,
            labels: ruleLabels(r),
            annotations: { summary: r.summary, description: r.description },
          })),
        ],
      },
    ],
  };
}

export function promtoolTests(ruleFile: string): object {
  return {
    rule_files: [ruleFile],
    evaluation_interval: EVAL_INTERVAL,
    tests: ALERT_RULES.flatMap((r) =>
      r.cases.map((c) => ({
        name: `${r.alert}: ${c.name}`,
        interval: '15s',
        input_series: c.series,
        alert_rule_test: [
          {
            eval_time: `${c.evalSeconds}s`,
            alertname: r.alert,
            exp_alerts: c.firing.map((l) => {
              const labels = { ...l, ...ruleLabels(r) };
              return {
                exp_labels: labels,
                exp_annotations: { summary: expandTemplate(r.summary, labels), description: expandTemplate(r.description, labels) },
              };
            }),
          },
        ],
      })),
    ),
  };
}

const GRAFANA_DATASOURCE_UID = 'redline-prometheus';
export const GRAFANA_ALERT_FOLDER = 'Redline';

function durationSeconds(d: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${d}`);
  return Number(m[1]) * (m[2] === 's' ? 1 : m[2] === 'm' ? 60 : 3600);
}

/**
 * The same alerts as Grafana-managed rules, in Grafana's file-provisioning format. Query A is the
 * Prometheus expression turned into "1 per offending series" (labels kept), condition C fires
 * when it is above 0, so both alerting systems fire on exactly the same series.
 */
export function grafanaAlerting(): object {
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: RULE_GROUP,
        folder: GRAFANA_ALERT_FOLDER,
        interval: '10s',
        rules: ALERT_RULES.map((r) => ({
          uid: r.uid,
          title: r.title,
          condition: 'C',
          data: [
            {
              refId: 'A',
              relativeTimeRange: { from: 600, to: 0 },
              datasourceUid: GRAFANA_DATASOURCE_UID,
              model: { refId: 'A', expr: `(${inlineRecordingRules(r.expr)}) * 0 + 1`, instant: true, range: false, intervalMs: 1000, maxDataPoints: 43200 },
            },
            {
              refId: 'C',
              datasourceUid: '__expr__',
              model: {
                refId: 'C',
                type: 'threshold',
                expression: 'A',
                datasource: { type: '__expr__', uid: '__expr__' },
                conditions: [{ evaluator: { type: 'gt', params: [0] } }],
              },
            },
          ],
          noDataState: 'OK',
          execErrState: 'Error',
          for: durationSeconds(r.for) === 0 ? '0s' : r.for,
          labels: { ...ruleLabels(r), redline_alert: r.alert },
          annotations: { summary: r.summary, description: r.description },
          isPaused: false,
        })),
      },
    ],
  };
}

/** Grafana evaluates against Prometheus directly, without relying on Redline's recording rules. */
export function inlineRecordingRules(expr: string): string {
  let out = expr;
  for (const r of RECORDING_RULES) out = out.split(r.record).join(`(${r.expr})`);
  return out;
}

export { HEADER as RULES_HEADER };
