/**
 * The one list of Redline's recording and alerting rules. From it come:
 *   - provisioning/prometheus/rules/redline.rules.yml   (Prometheus rules)
 *   - provisioning/prometheus/tests/redline.rules.test.yml (promtool unit tests: each alert fires
 *     within 30 s of the onset of its input and then stays firing without a break, stays quiet on a
 *     calm input, and a noisy input hovering at the threshold neither flaps nor fires falsely)
 *   - provisioning/grafana/alerting/redline-rules.yaml  (the same alerts, Grafana-managed)
 *
 * How the rules stay fast and steady: the group is evaluated every second (EVAL_INTERVAL) on
 * series scraped every second; each rule reads a windowed statistic of its noisy input (the
 * median over 20 s for CPU demand, event-loop delay and utilisation, the peak over 15 s for
 * hard limits such as fds and memory maps, increases over 20 s for counters) and holds only a
 * short `for:`; `keep_firing_for` bridges a brief dip so that an alert does not resolve and
 * fire again while its input hovers at the threshold. Thresholds come from analysis/thresholds.ts.
 *
 * Every alert carries a `verdict` label: `sut`, `injector`, `observer`, the group's role for
 * per-group limits, or `host` for a host-wide condition that no group's own evidence explains
 * (never `sut` by default). Annotation templates use only `{{ $labels.x }}`, which Prometheus and
 * Grafana both understand and which the generated promtool tests can expand exactly.
 */
import { LIMITS } from '../analysis/thresholds.js';

export type Severity = 'warning' | 'critical';
export type Verdict = 'sut' | 'injector' | 'observer';

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
  /** What the case shows, written into the test file as its name. */
  name: string;
  series: TestSeries[];
  /**
   * Seconds from the start at which the input turns saturated (cases that fire). The test checks
   * the alert is quiet just before, fires within `within` seconds, and then fires at every
   * evaluation up to the end of the series without a break.
   */
  onset?: number;
  /** Seconds after `onset` by which the alert must fire (default and at most 30). */
  within?: number;
  /** The last second at which it must still fire (default: the end of the series; before the end, it must have resolved by then). */
  until?: number;
  /** Label sets (without alertname and the rule's own labels) expected firing; empty = quiet throughout. */
  firing: Array<Record<string, string>>;
  /** The input hovers at the threshold: the case is there to show the rule does not flap. */
  noisy?: boolean;
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
  verdict?: Verdict;
  summary: string;
  /** What it means and what to look at next. */
  description: string;
  cases: AlertCase[];
}

/** Window of the median taken over noisy inputs (CPU demand, event-loop delay, utilisation) and of counter increases. */
export const WINDOW = '20s';
/** Window of the peak taken over hard limits (fds, memory maps, memory, the accept queue). */
export const PEAK_WINDOW = '15s';
/** Window of the watchdog's stall gauge: it fires as soon as the loop has been stuck for the critical lag. */
export const STALL_WINDOW = '5s';
/** How long an alert keeps firing after its condition last held (bridges dips: no flapping). */
export const KEEP_FIRING_FOR = '30s';
/** The promise every rule's tests check: firing within this many seconds of the onset. */
export const FIRE_WITHIN_SECONDS = 30;

const median = (selector: string): string => `quantile_over_time(0.5, ${selector}[${WINDOW}])`;
const peak = (selector: string): string => `max_over_time(${selector}[${PEAK_WINDOW}])`;
/** The verdict of a per-group condition is the group's role. */
const verdictOfRole = (expr: string): string => `label_replace(${expr}, "verdict", "$1", "role", "(.+)")`;
const withVerdict = (expr: string, verdict: string): string => `label_replace(${expr}, "verdict", "${verdict}", "__name__", ".*")`;
/** CPU a group asks for (received + waiting in a run queue), in cores. */
const groupDemand = (role: string): string =>
  `(sum without (mode) (rate(redline_process_cpu_seconds_total{role="${role}"}[${WINDOW}])) + rate(redline_process_runqueue_wait_seconds_total{role="${role}"}[${WINDOW}]))`;
/** ... against its cgroup CPU quota where one is set, else against its host's CPUs. */
const groupDemandShare = (role: string): string =>
  `(${groupDemand(role)} / on (env, instance, group, role) group_left () redline_cgroup_cpu_limit_cores or ${groupDemand(role)} / on (env, instance) group_left () redline_host_cpus)`;
/** Either event-loop delay statistic of probed processes: the time-weighted delay an arrival meets, or the per-timer lag. */
const loopDelay = (roleMatcher: string, limit: number): string =>
  `${median(`redline_nodejs_eventloop_delay_seconds{quantile="0.99", ${roleMatcher}}`)} >= ${limit}` +
  ` or ${median(`redline_nodejs_eventloop_lag_seconds{quantile="0.99", ${roleMatcher}}`)} >= ${limit}`;
const stalled = (roleMatcher: string): string =>
  `max_over_time(redline_nodejs_eventloop_stalled_seconds{${roleMatcher}}[${STALL_WINDOW}]) >= ${LIMITS.eventLoopLagCriticalSeconds}`;
/** Listeners of a group with their own evidence of overflowing: full, or half full while the host counts overflows. */
const ACCEPT_QUEUE_FULL =
  `${peak('redline_listen_queue_length')} >= (redline_listen_queue_limit > 0)` +
  ` or (${peak('redline_listen_queue_length')} >= (redline_listen_queue_limit > 0) / 2 and on (env, instance) (increase(redline_host_tcp_listen_overflows_total[${WINDOW}]) > 0))`;

// ------------------------------------------------------------------ test inputs

/** Labels Prometheus adds to every scraped series in the tests (target labels). */
const T = 'env="staging", instance="sut-host:9102", job="redline"';
const TL = { env: 'staging', instance: 'sut-host:9102', job: 'redline' };
/** Every test series is sampled once a second for END seconds; saturating inputs start at ONSET. */
const END = 110;
const ONSET = 40;
const N = END + 1;

type Seq = number[];
const flat = (v: number, n = N): Seq => Array<number>(n).fill(v);
/** `calm` up to ONSET, then `after` (numbers are repeated). */
const onsetSeq = (calm: number | Seq, after: number | Seq): Seq => {
  const a = typeof calm === 'number' ? flat(calm, ONSET) : calm.slice(0, ONSET);
  const b = typeof after === 'number' ? flat(after, N - ONSET) : after.slice(0, N - ONSET);
  return [...a, ...b];
};
/** Deterministic noise: `center` ± `spread`, uniform (a fixed linear congruential sequence per seed). */
function noisy(center: number, spread: number, seed: number, n = N): Seq {
  let x = seed * 7919 + 17;
  const out: Seq = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push(center + spread * ((x / 2147483648) * 2 - 1));
  }
  return out;
}
/** A counter from its per-second increments (starts at 0). */
const counter = (increments: Seq): Seq => {
  let v = 0;
  return increments.map((d, i) => (i === 0 ? 0 : (v += d)));
};
const round = (v: number): number => Math.round(v * 10000) / 10000;
/** promtool's expanding notation: runs of a constant step become `a+bxn`. */
export function encodeValues(seq: Seq): string {
  const vs = seq.map(round);
  const out: string[] = [];
  let i = 0;
  while (i < vs.length) {
    let j = i;
    const d = i + 1 < vs.length ? round(vs[i + 1]! - vs[i]!) : 0;
    while (j + 1 < vs.length && Math.abs(round(vs[j + 1]! - vs[j]!) - d) < 1e-9) j++;
    if (j - i >= 2) {
      out.push(d === 0 ? `${vs[i]}x${j - i}` : `${vs[i]}${d > 0 ? '+' : '-'}${Math.abs(d)}x${j - i}`);
      i = j + 1;
    } else {
      out.push(String(vs[i]));
      i++;
    }
  }
  return out.join(' ');
}
const s = (series: string, seq: Seq): TestSeries => ({ series, values: encodeValues(seq) });

export const RECORDING_RULES: RecordingRule[] = [
  {
    record: 'instance:redline_host_cpu_busy:ratio',
    // idle and iowait are time the CPUs could have run something; steal is time they could not.
    expr: `sum without (mode) (rate(redline_host_cpu_seconds_total{mode!~"idle|iowait"}[${WINDOW}])) / redline_host_cpus`,
    help: `Share of the host CPUs busy over the last ${WINDOW} (0-1).`,
  },
];

const api = (role = 'sut', group = 'api'): string => `group="${group}", role="${role}", ${T}`;
const probe = (role: string, service: string, pid: string, extra = ''): string =>
  `${extra}role="${role}", service="${service}", pid="${pid}", group="${service}", ${T}`;
const probeLabels = (role: string, service: string, pid: string): Record<string, string> => ({ role, service, pid, group: service, ...TL });

export const ALERT_RULES: AlertRule[] = [
  {
    alert: 'RedlineEventLoopLagHigh',
    uid: 'redline-eventloop-lag-high',
    title: 'Event-loop delay p99 high',
    expr:
      `${loopDelay('role!="injector"', LIMITS.eventLoopLagSeconds)}` +
      ` or ${median('redline_nodejs_eventloop_blocked_ratio{role!="injector"}')} >= ${LIMITS.eventLoopBlockedRatio}`,
    for: '5s',
    severity: 'warning',
    verdict: 'sut',
    summary: `Event-loop delay of {{ $labels.service }} (pid {{ $labels.pid }}): p99 at least ${LIMITS.eventLoopLagSeconds * 1000} ms, or the loop blocked at least ${LIMITS.eventLoopBlockedRatio * 100}% of the time`,
    description:
      `Over the last ${WINDOW}, a request arriving at a random moment (time-weighted delay) or a timer (per-timer lag) of this Node process typically waited at least ${LIMITS.eventLoopLagSeconds * 1000} ms at p99 before its code even started. ` +
      'Intermittent stalls count too: a 150 ms stall each second reads ~15% blocked and ~140 ms at p99, and a health check with a 100 ms timeout fails that often. ' +
      `Frequent shorter stalls count through the time-weighted blocked share (the series without a quantile label): at least ${LIMITS.eventLoopBlockedRatio * 100}% blocked over the last ${WINDOW} means every other request waits behind the loop, even with each stall under ${LIMITS.eventLoopLagSeconds * 1000} ms (50 ms ten times a second reads p99 ~49 ms). ` +
      'It is the first sign of a saturated single-threaded service. Look next at the busiest thread of its group (near 1 core means CPU-bound on the main thread), the blocked share, event-loop utilisation and GC pauses on the Process detail dashboard.',
    cases: [
      {
        name: 'a 150 ms stall each second (time-weighted p99 ~0.14 s, per-timer p99 a few ms) fires within 30 s and stays firing; an injector doing the same does not',
        onset: ONSET,
        series: [
          s(`redline_nodejs_eventloop_delay_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, onsetSeq(0.002, noisy(0.14, 0.01, 1))),
          s(`redline_nodejs_eventloop_lag_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, noisy(0.004, 0.002, 2)),
          s(`redline_nodejs_eventloop_blocked_ratio{${probe('sut', 'api', '42')}}`, onsetSeq(0.002, 0.15)),
          s(`redline_nodejs_eventloop_delay_seconds{${probe('injector', 'load', '43', 'quantile="0.99", ')}}`, onsetSeq(0.002, 0.14)),
        ],
        firing: [{ quantile: '0.99', ...probeLabels('sut', 'api', '42') }],
      },
      {
        name: 'per-timer lag p99 at 250 ms fires',
        onset: ONSET,
        series: [s(`redline_nodejs_eventloop_lag_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, onsetSeq(0.003, 0.25))],
        firing: [{ quantile: '0.99', ...probeLabels('sut', 'api', '42') }],
      },
      {
        name: 'delay p99 hovering just above 100 ms (every third sample below) fires and does not flap',
        onset: ONSET,
        noisy: true,
        series: [s(`redline_nodejs_eventloop_delay_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, onsetSeq(noisy(0.01, 0.005, 3), noisy(0.106, 0.012, 4)))],
        firing: [{ quantile: '0.99', ...probeLabels('sut', 'api', '42') }],
      },
      {
        name: 'blocked share hovering just above half (50 ms stalls ten times a second, some samples below half; delay p99 ~49 ms) fires and does not flap',
        onset: ONSET,
        noisy: true,
        series: [
          s(`redline_nodejs_eventloop_blocked_ratio{${probe('sut', 'api', '42')}}`, onsetSeq(noisy(0.05, 0.03, 11), noisy(0.56, 0.08, 12))),
          s(`redline_nodejs_eventloop_delay_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, onsetSeq(0.002, noisy(0.049, 0.004, 13))),
        ],
        firing: [probeLabels('sut', 'api', '42')],
      },
      {
        name: 'blocked share hovering just below half (some samples above) stays quiet; an injector blocked 90% is not the SUT',
        noisy: true,
        series: [
          s(`redline_nodejs_eventloop_blocked_ratio{${probe('sut', 'api', '42')}}`, noisy(0.44, 0.08, 14)),
          s(`redline_nodejs_eventloop_blocked_ratio{${probe('injector', 'load', '43')}}`, flat(0.9)),
        ],
        firing: [],
      },
      {
        name: 'delay p99 hovering just below 100 ms (every third sample above) stays quiet',
        noisy: true,
        series: [s(`redline_nodejs_eventloop_delay_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, noisy(0.094, 0.012, 5))],
        firing: [],
      },
      {
        name: '62.5 ms of delay and lag stays quiet',
        series: [
          s(`redline_nodejs_eventloop_delay_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, flat(0.0625)),
          s(`redline_nodejs_eventloop_lag_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, flat(0.0625)),
        ],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineEventLoopLagCritical',
    uid: 'redline-eventloop-lag-critical',
    title: 'Event loop stuck or delay p99 above 1 s',
    expr: `${stalled('role!="injector"')} or ${loopDelay('role!="injector"', LIMITS.eventLoopLagCriticalSeconds)}`,
    for: '2s',
    severity: 'critical',
    verdict: 'sut',
    summary: `Event loop of {{ $labels.service }} (pid {{ $labels.pid }}) is stuck or delayed by at least ${LIMITS.eventLoopLagCriticalSeconds} s`,
    description:
      `Either the probe's watchdog reports the main loop stuck for at least ${LIMITS.eventLoopLagCriticalSeconds} s right now (redline_nodejs_eventloop_stalled_seconds), or its delay p99 has been at least ${LIMITS.eventLoopLagCriticalSeconds} s over the last ${WINDOW}. ` +
      'At this lag health checks time out and a load balancer will pull the process out of rotation, shifting its load onto the others. ' +
      'The service is past its breaking point: note the load on the overview dashboard at which this began; that is the capacity. A loop stuck for good (an endless loop, a synchronous call that never returns) stays stalled while the load goes on.',
    cases: [
      {
        name: 'the watchdog reporting a loop stuck for 10 s fires within 5 s, holds while stuck and resolves after',
        onset: ONSET,
        within: 5,
        series: [
          s(
            `redline_nodejs_eventloop_stalled_seconds{${probe('sut', 'api', '42')}}`,
            onsetSeq(0, [...Array.from({ length: 10 }, (_, i) => 0.2 + i), ...flat(0, N)]),
          ),
        ],
        firing: [probeLabels('sut', 'api', '42')],
        until: ONSET + 10,
      },
      {
        name: 'a loop stuck for good fires and keeps firing',
        onset: ONSET,
        within: 5,
        series: [s(`redline_nodejs_eventloop_stalled_seconds{${probe('sut', 'api', '42')}}`, onsetSeq(0, Array.from({ length: N }, (_, i) => 0.2 + i)))],
        firing: [probeLabels('sut', 'api', '42')],
      },
      {
        name: 'delay p99 hovering around 1.1 s fires and does not flap',
        onset: ONSET,
        noisy: true,
        series: [s(`redline_nodejs_eventloop_delay_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, onsetSeq(0.05, noisy(1.1, 0.15, 6)))],
        firing: [{ quantile: '0.99', ...probeLabels('sut', 'api', '42') }],
      },
      {
        name: '500 ms of delay and half-second stalls stay quiet',
        series: [
          s(`redline_nodejs_eventloop_delay_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, flat(0.5)),
          s(`redline_nodejs_eventloop_stalled_seconds{${probe('sut', 'api', '42')}}`, Array.from({ length: N }, (_, i) => (i % 10 === 5 ? 0.5 : 0))),
        ],
        firing: [],
      },
      {
        name: 'delay p99 hovering around 0.9 s stays quiet',
        noisy: true,
        series: [s(`redline_nodejs_eventloop_delay_seconds{${probe('sut', 'api', '42', 'quantile="0.99", ')}}`, noisy(0.9, 0.15, 7))],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineEventLoopSaturated',
    uid: 'redline-eventloop-saturated',
    title: 'Event loop saturated',
    expr: `${median('redline_nodejs_eventloop_utilization{role!="injector"}')} >= ${LIMITS.eventLoopUtilisation}`,
    for: '5s',
    severity: 'warning',
    verdict: 'sut',
    summary: `Event loop of {{ $labels.service }} (pid {{ $labels.pid }}) is busy at least ${LIMITS.eventLoopUtilisation * 100}% of the time`,
    description:
      `Over the last ${WINDOW} the loop had almost no idle time left: more load only adds queueing, so latency climbs while throughput stays flat. ` +
      'Look next at the knee view of the overview dashboard and at CPU of the busiest thread; GC pauses show whether memory pressure is part of it.',
    cases: [
      {
        name: 'utilisation ~0.96 with dips to 0.86 fires within 30 s and does not flap',
        onset: ONSET,
        noisy: true,
        series: [s(`redline_nodejs_eventloop_utilization{${probe('sut', 'api', '42')}}`, onsetSeq(noisy(0.3, 0.1, 8), noisy(0.955, 0.07, 9)))],
        firing: [probeLabels('sut', 'api', '42')],
      },
      {
        name: 'utilisation hovering at 0.87 (samples up to 0.94) stays quiet',
        noisy: true,
        series: [s(`redline_nodejs_eventloop_utilization{${probe('sut', 'api', '42')}}`, noisy(0.87, 0.07, 10))],
        firing: [],
      },
      {
        name: 'utilisation 0.5 stays quiet',
        series: [s(`redline_nodejs_eventloop_utilization{${probe('sut', 'api', '42')}}`, flat(0.5))],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineSutCpuSaturated',
    uid: 'redline-sut-cpu-saturated',
    title: 'SUT CPU saturated',
    expr:
      `${withVerdict(`${median('redline_process_busiest_thread_cpu_demand_ratio{role="sut"}')} >= ${LIMITS.sutThreadCores}`, 'sut')}` +
      ` or ${withVerdict(`${groupDemandShare('sut')} >= ${LIMITS.hostCpuBusy}`, 'sut')}` +
      ` or (${withVerdict(`instance:redline_host_cpu_busy:ratio >= ${LIMITS.hostCpuBusy} and on (env, instance) (redline_process_count{role="sut"} > 0)`, 'host')}` +
      ` unless on (env, instance) (${groupDemandShare('sut')} >= ${LIMITS.hostCpuBusy}))`,
    for: '5s',
    severity: 'warning',
    summary: 'CPU saturated for the system under test: {{ $labels.verdict }} {{ $labels.group }} on {{ $labels.instance }}',
    description:
      `verdict=sut: the busiest thread of the group demands at least ${LIMITS.sutThreadCores} of a core (run time plus run-queue wait, median over ${WINDOW}: a single-threaded process cannot go faster, however idle the other cores are, and a thread starved by busy neighbours counts too), ` +
      `or the whole group demands at least ${LIMITS.hostCpuBusy * 100}% of its cgroup quota or of its host's CPUs. ` +
      `verdict=host: the host running the SUT is at least ${LIMITS.hostCpuBusy * 100}% busy but not because of the SUT (an injector, a CPU burner or another tenant on the same host): the SUT's results are affected by its neighbours. ` +
      'Look next at throughput against load (the knee), at event-loop delay of the same group and at run-queue wait on the Process detail dashboard.',
    cases: [
      {
        name: 'a SUT thread demanding a whole core while it receives ~0.7 fires within 30 s, verdict sut',
        onset: ONSET,
        noisy: true,
        series: [
          s(`redline_process_busiest_thread_cpu_demand_ratio{${api()}}`, onsetSeq(noisy(0.3, 0.05, 11), noisy(0.96, 0.06, 12))),
          s(`redline_process_busiest_thread_cpu_ratio{${api()}}`, onsetSeq(0.3, noisy(0.7, 0.25, 13))),
        ],
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'a SUT group demanding 1.9 of 2 cores fires, verdict sut',
        onset: ONSET,
        series: [
          s(`redline_process_cpu_seconds_total{mode="user", ${api()}}`, counter(onsetSeq(0.2, 1.6))),
          s(`redline_process_cpu_seconds_total{mode="system", ${api()}}`, counter(onsetSeq(0.05, 0.2))),
          s(`redline_process_runqueue_wait_seconds_total{${api()}}`, counter(onsetSeq(0, 0.1))),
          s(`redline_process_busiest_thread_cpu_demand_ratio{${api()}}`, flat(0.5)),
          s(`redline_host_cpus{${T}}`, flat(2)),
        ],
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'a SUT group demanding 0.95 of its 1-core cgroup quota on a 2-core host fires, verdict sut (the quota is its limit)',
        onset: ONSET,
        series: [
          s(`redline_process_cpu_seconds_total{mode="user", ${api()}}`, counter(onsetSeq(0.2, 0.9))),
          s(`redline_process_runqueue_wait_seconds_total{${api()}}`, counter(onsetSeq(0, 0.05))),
          s(`redline_cgroup_cpu_limit_cores{${api()}}`, flat(1)),
          s(`redline_process_busiest_thread_cpu_demand_ratio{${api()}}`, flat(0.5)),
          s(`redline_host_cpus{${T}}`, flat(2)),
        ],
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'a host 95% busy with an idle SUT on it fires as verdict host, without a group',
        onset: ONSET,
        series: [
          s(`redline_host_cpu_seconds_total{mode="idle", ${T}}`, counter(onsetSeq(1.5, 0.1))),
          s(`redline_host_cpu_seconds_total{mode="user", ${T}}`, counter(onsetSeq(0.5, 1.9))),
          s(`redline_host_cpus{${T}}`, flat(2)),
          s(`redline_process_count{${api()}}`, flat(1)),
          s(`redline_process_cpu_seconds_total{mode="user", ${api()}}`, counter(flat(0.02))),
          s(`redline_process_runqueue_wait_seconds_total{${api()}}`, counter(flat(0.001))),
          s(`redline_process_busiest_thread_cpu_demand_ratio{${api()}}`, flat(0.02)),
        ],
        firing: [{ verdict: 'host', ...TL }],
      },
      {
        name: 'a busy host without a SUT, and a SUT thread at half a core on an idle host, stay quiet',
        series: [
          s(`redline_process_busiest_thread_cpu_demand_ratio{${api()}}`, flat(0.5)),
          s(`redline_process_count{${api()}}`, flat(1)),
          s(`redline_host_cpu_seconds_total{mode="idle", ${T}}`, counter(flat(1))),
          s(`redline_host_cpu_seconds_total{mode="user", ${T}}`, counter(flat(1))),
          s(`redline_host_cpus{${T}}`, flat(2)),
          s(`redline_host_cpu_seconds_total{mode="idle", env="staging", instance="load-host:9102", job="redline"}`, counter(flat(0))),
          s(`redline_host_cpu_seconds_total{mode="user", env="staging", instance="load-host:9102", job="redline"}`, counter(flat(2))),
          s(`redline_host_cpus{env="staging", instance="load-host:9102", job="redline"}`, flat(2)),
        ],
        firing: [],
      },
      {
        name: 'thread demand hovering at 0.83 (samples up to 0.93) stays quiet',
        noisy: true,
        series: [s(`redline_process_busiest_thread_cpu_demand_ratio{${api()}}`, noisy(0.83, 0.1, 14))],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineInjectorSaturated',
    uid: 'redline-injector-saturated',
    title: 'Injector saturated — results invalid',
    expr:
      `${median('redline_process_busiest_process_cpu_demand_ratio{role="injector"}')} >= ${LIMITS.injectorProcessCores}` +
      ` or ${groupDemandShare('injector')} >= ${LIMITS.hostCpuBusy}` +
      ` or ${loopDelay('role="injector"', LIMITS.eventLoopLagSeconds)}` +
      ` or ${stalled('role="injector"')}`,
    for: '5s',
    severity: 'critical',
    verdict: 'injector',
    summary: 'The load injector {{ $labels.group }}{{ $labels.service }} is saturated: the test measures the injector, not the SUT',
    description:
      `An injector process demands at least ${LIMITS.injectorProcessCores} of a core (run time plus run-queue wait, median over ${WINDOW}: one starved of CPU by a busy host is as invalid as one that uses it all), ` +
      `its group demands at least ${LIMITS.hostCpuBusy * 100}% of its quota or host, its event-loop delay p99 is ${LIMITS.eventLoopLagSeconds * 1000} ms or more, or its loop is stuck: ` +
      'it no longer sends the load it was asked for, and latencies it reports include its own queueing. Results from this point are invalid. Add injector processes or hosts (compare offered and achieved rate), then rerun.',
    cases: [
      {
        name: 'an injector receiving a median 0.8 core (as low as 0.4) while waiting 0.18 s/s in the run queue fires within 30 s and does not flap',
        onset: ONSET,
        noisy: true,
        series: [
          s(`redline_process_busiest_process_cpu_demand_ratio{${api('injector', 'locust')}}`, onsetSeq(noisy(0.2, 0.05, 15), noisy(0.93, 0.15, 16))),
          s(`redline_process_busiest_process_cpu_ratio{${api('injector', 'locust')}}`, onsetSeq(0.2, noisy(0.7, 0.3, 17))),
        ],
        firing: [{ group: 'locust', role: 'injector', ...TL }],
      },
      {
        name: 'a Node injector with 150 ms stalls each second fires',
        onset: ONSET,
        series: [s(`redline_nodejs_eventloop_delay_seconds{${probe('injector', 'load', '7', 'quantile="0.99", ')}}`, onsetSeq(0.002, 0.14))],
        firing: [{ quantile: '0.99', ...probeLabels('injector', 'load', '7') }],
      },
      {
        name: 'an injector whose loop is stuck fires within 10 s',
        onset: ONSET,
        within: 10,
        series: [s(`redline_nodejs_eventloop_stalled_seconds{${probe('injector', 'load', '7')}}`, onsetSeq(0, Array.from({ length: N }, (_, i) => 0.2 + i)))],
        firing: [probeLabels('injector', 'load', '7')],
      },
      {
        name: 'injector demand hovering at 0.75 (samples up to 0.85) stays quiet; so does a SUT thread at a whole core',
        noisy: true,
        series: [
          s(`redline_process_busiest_process_cpu_demand_ratio{${api('injector', 'locust')}}`, noisy(0.75, 0.1, 18)),
          s(`redline_process_busiest_process_cpu_demand_ratio{${api()}}`, flat(1)),
        ],
        firing: [],
      },
      {
        name: 'an injector at half a core with a calm loop stays quiet',
        series: [
          s(`redline_process_busiest_process_cpu_demand_ratio{${api('injector', 'locust')}}`, flat(0.5)),
          s(`redline_nodejs_eventloop_lag_seconds{${probe('injector', 'load', '7', 'quantile="0.99", ')}}`, flat(0.0625)),
          s(`redline_nodejs_eventloop_stalled_seconds{${probe('injector', 'load', '7')}}`, flat(0)),
        ],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineFileDescriptorsNearLimit',
    uid: 'redline-fds-near-limit',
    title: 'File descriptors near the limit',
    // The verdict follows the role of the group: an injector out of fds is the injector's limit.
    expr: verdictOfRole(`${peak('redline_process_fd_ratio')} >= ${LIMITS.fdRatio}`),
    for: '5s',
    severity: 'warning',
    summary: `A process of {{ $labels.group }} ({{ $labels.role }}) uses at least ${LIMITS.fdRatio * 100}% of its file descriptor limit`,
    description:
      `Within the last ${PEAK_WINDOW} open connections or files reached ${LIMITS.fdRatio * 100}% of the limit; at the limit accept() and open() fail with EMFILE and clients see resets. ` +
      'Look next at open fds against the load (does each new injector step add a fixed number?) and at the accept queue; raise the limit (ulimit -n) only once you know why they pile up.',
    cases: [
      {
        name: 'fd ratio 0.875 fires within 30 s with the role as verdict',
        onset: ONSET,
        series: [s(`redline_process_fd_ratio{${api()}}`, onsetSeq(0.3, 0.875))],
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'an injector hovering at 0.8 fds fires as verdict injector and does not flap',
        onset: ONSET,
        noisy: true,
        series: [s(`redline_process_fd_ratio{${api('injector', 'locust')}}`, onsetSeq(0.3, noisy(0.79, 0.03, 19)))],
        firing: [{ group: 'locust', role: 'injector', verdict: 'injector', ...TL }],
      },
      {
        name: 'fd ratio noisy below 0.78 stays quiet',
        noisy: true,
        series: [s(`redline_process_fd_ratio{${api()}}`, noisy(0.7, 0.08, 20))],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineMemoryMapsNearLimit',
    uid: 'redline-memory-maps-near-limit',
    title: 'Memory maps near vm.max_map_count',
    expr: verdictOfRole(`${peak('redline_process_memory_maps_ratio')} >= ${LIMITS.memoryMapsRatio}`),
    for: '5s',
    severity: 'warning',
    summary: `A process of {{ $labels.group }} ({{ $labels.role }}) has at least ${LIMITS.memoryMapsRatio * 100}% of vm.max_map_count memory maps`,
    description:
      'At vm.max_map_count (65530 by default) mmap() fails: allocators, thread stacks and JIT code report out of memory although memory is free, and the process usually crashes. ' +
      'Look next at memory maps against the load on the overview (maps climbing with each step: buffers, threads or mmapped files piling up); raise vm.max_map_count only once you know why they grow.',
    cases: [
      {
        name: '60,166 maps of 65,530 (92%) fire within 30 s',
        onset: ONSET,
        series: [
          s(`redline_process_memory_maps_ratio{${api()}}`, onsetSeq(0.01, 60166 / 65530)),
          s(`redline_process_memory_maps{${api()}}`, onsetSeq(600, 60166)),
        ],
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'maps hovering at 80% fire and do not flap',
        onset: ONSET,
        noisy: true,
        series: [s(`redline_process_memory_maps_ratio{${api()}}`, onsetSeq(0.01, noisy(0.795, 0.02, 21)))],
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'maps noisy around 60% stay quiet',
        noisy: true,
        series: [s(`redline_process_memory_maps_ratio{${api()}}`, noisy(0.6, 0.15, 22))],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineMemoryNearLimit',
    uid: 'redline-memory-near-limit',
    title: 'Memory near the cgroup limit',
    expr: verdictOfRole(`${peak('redline_cgroup_memory_bytes')} / redline_cgroup_memory_limit_bytes >= ${LIMITS.memoryRatio}`),
    for: '5s',
    severity: 'warning',
    summary: `The cgroup of {{ $labels.group }} ({{ $labels.role }}) uses at least ${LIMITS.memoryRatio * 100}% of its memory.max`,
    description:
      'Near memory.max the kernel reclaims the group\'s page cache and then OOM-kills a process of it: latency climbs with reclaim before the crash. ' +
      'Look next at memory of the group against the load and at cgroup memory pressure on the Process detail dashboard.',
    cases: [
      {
        name: 'a cgroup at 95% of memory.max fires within 30 s',
        onset: ONSET,
        series: [
          s(`redline_cgroup_memory_bytes{${api()}}`, onsetSeq(100e6, 486e6)),
          s(`redline_cgroup_memory_limit_bytes{${api()}}`, flat(512e6)),
        ],
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'memory hovering at 90% fires and does not flap',
        onset: ONSET,
        noisy: true,
        series: [
          s(`redline_cgroup_memory_bytes{${api('injector', 'k6')}}`, onsetSeq(100e6, noisy(458e6, 10e6, 23))),
          s(`redline_cgroup_memory_limit_bytes{${api('injector', 'k6')}}`, flat(512e6)),
        ],
        firing: [{ group: 'k6', role: 'injector', verdict: 'injector', ...TL }],
      },
      {
        name: 'memory noisy around 70% stays quiet, and no limit means no alert',
        noisy: true,
        series: [
          s(`redline_cgroup_memory_bytes{${api()}}`, noisy(358e6, 50e6, 24)),
          s(`redline_cgroup_memory_limit_bytes{${api()}}`, flat(512e6)),
          s(`redline_cgroup_memory_bytes{${api('sut', 'db')}}`, flat(8e9)),
        ],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineCpuThrottled',
    uid: 'redline-cpu-throttled',
    title: 'CPU throttled by the cgroup quota',
    expr: verdictOfRole(`rate(redline_cgroup_cpu_throttled_periods_total[${WINDOW}]) / rate(redline_cgroup_cpu_periods_total[${WINDOW}]) >= ${LIMITS.cpuThrottledShare}`),
    for: '5s',
    severity: 'warning',
    summary: `{{ $labels.group }} ({{ $labels.role }}) is throttled by its CPU quota in at least ${LIMITS.cpuThrottledShare * 100}% of periods`,
    description:
      `Over the last ${WINDOW} the group's cgroup ran out of its cpu.max quota in at least ${LIMITS.cpuThrottledShare * 100}% of its periods: its threads were stopped until the next period, ` +
      'which adds up to a period (100 ms by default) to requests even while the host has idle cores. Container CPU limits do this. ' +
      'Look next at the group\'s CPU against its quota (redline_cgroup_cpu_limit_cores) and throttled time; raise the limit or spread the load.',
    cases: [
      {
        name: '3 of 10 periods throttled each second fires within 30 s',
        onset: ONSET,
        series: [
          s(`redline_cgroup_cpu_periods_total{${api()}}`, counter(flat(10))),
          s(`redline_cgroup_cpu_throttled_periods_total{${api()}}`, counter(onsetSeq(0, 3))),
        ],
        firing: [{ group: 'api', role: 'sut', verdict: 'sut', ...TL }],
      },
      {
        name: 'throttling between 0 and 6 of 10 periods (mean 30%) fires and does not flap',
        onset: ONSET,
        noisy: true,
        series: [
          s(`redline_cgroup_cpu_periods_total{${api('injector', 'k6')}}`, counter(flat(10))),
          s(`redline_cgroup_cpu_throttled_periods_total{${api('injector', 'k6')}}`, counter(onsetSeq(0, noisy(3, 3, 25).map(Math.round)))),
        ],
        firing: [{ group: 'k6', role: 'injector', verdict: 'injector', ...TL }],
      },
      {
        name: 'throttling between 0 and 4 of 10 periods (mean 20%) stays quiet, and so does an idle cgroup',
        noisy: true,
        series: [
          s(`redline_cgroup_cpu_periods_total{${api()}}`, counter(flat(10))),
          s(`redline_cgroup_cpu_throttled_periods_total{${api()}}`, counter(noisy(2, 2, 26).map(Math.round))),
          s(`redline_cgroup_cpu_periods_total{${api('sut', 'idle')}}`, flat(5)),
          s(`redline_cgroup_cpu_throttled_periods_total{${api('sut', 'idle')}}`, flat(5)),
        ],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineAcceptQueueOverflowing',
    uid: 'redline-accept-queue-overflowing',
    title: 'Accept queue overflowing',
    expr:
      `${verdictOfRole(`(${ACCEPT_QUEUE_FULL})`)}` +
      ` or (${withVerdict(`increase(redline_host_tcp_listen_overflows_total[${WINDOW}]) > 0`, 'host')} unless on (env, instance) (${ACCEPT_QUEUE_FULL}))`,
    for: '2s',
    severity: 'critical',
    summary: 'TCP accept queue full: {{ $labels.verdict }} {{ $labels.group }} {{ $labels.port }} on {{ $labels.instance }}',
    description:
      'The kernel has connections the application has not accept()ed yet and the queue is full: new clients see timeouts, retransmitted SYNs or ECONNREFUSED, ' +
      'which the injector reports as errors or long connect times. The application is not accepting fast enough (a busy event loop, all workers busy) or its listen backlog is small. ' +
      `With a group and port: that group's listener was full (or half full while the host counted overflows) within the last ${PEAK_WINDOW}; verdict is the group's role. ` +
      'verdict=host: the host counted listen overflows but no watched group\'s listener shows it: another process on the host overflowed. ' +
      'Look next at event-loop delay and CPU of the group that owns the port.',
    cases: [
      {
        name: 'a SUT queue at its limit fires within 30 s, verdict sut with group and port',
        onset: ONSET,
        series: [
          s(`redline_listen_queue_length{group="api", role="sut", port="8080", ${T}}`, onsetSeq(3, 512)),
          s(`redline_listen_queue_limit{group="api", role="sut", port="8080", ${T}}`, flat(511)),
        ],
        firing: [{ group: 'api', role: 'sut', port: '8080', verdict: 'sut', ...TL }],
      },
      {
        name: 'host overflows while the SUT queue is half full are the SUT group\'s',
        onset: ONSET,
        series: [
          s(`redline_host_tcp_listen_overflows_total{${T}}`, counter(onsetSeq(0, 5))),
          s(`redline_listen_queue_length{group="api", role="sut", port="8080", ${T}}`, onsetSeq(0, noisy(300, 40, 27).map(Math.round))),
          s(`redline_listen_queue_limit{group="api", role="sut", port="8080", ${T}}`, flat(511)),
        ],
        firing: [{ group: 'api', role: 'sut', port: '8080', verdict: 'sut', ...TL }],
      },
      {
        name: 'host overflows with every watched queue short fire as verdict host, never sut',
        onset: ONSET,
        series: [
          s(`redline_host_tcp_listen_overflows_total{${T}}`, counter(onsetSeq(0, 5))),
          s(`redline_listen_queue_length{group="api", role="sut", port="8080", ${T}}`, flat(2)),
          s(`redline_listen_queue_limit{group="api", role="sut", port="8080", ${T}}`, flat(511)),
        ],
        firing: [{ verdict: 'host', ...TL }],
      },
      {
        name: 'a queue hovering at its limit and sporadic overflows fire and do not flap',
        onset: ONSET,
        noisy: true,
        series: [
          s(`redline_host_tcp_listen_overflows_total{${T}}`, counter(onsetSeq(0, Array.from({ length: N }, (_, i) => (i % 7 === 3 ? 2 : 0))))),
          s(`redline_listen_queue_length{group="api", role="sut", port="8080", ${T}}`, onsetSeq(1, noisy(127, 3, 28).map(Math.round))),
          s(`redline_listen_queue_limit{group="api", role="sut", port="8080", ${T}}`, flat(128)),
        ],
        firing: [{ group: 'api', role: 'sut', port: '8080', verdict: 'sut', ...TL }],
      },
      {
        name: 'no overflows and a noisy short queue stay quiet',
        noisy: true,
        series: [
          s(`redline_host_tcp_listen_overflows_total{${T}}`, flat(7)),
          s(`redline_listen_queue_length{group="api", role="sut", port="8080", ${T}}`, noisy(100, 100, 29).map(Math.round)),
          s(`redline_listen_queue_limit{group="api", role="sut", port="8080", ${T}}`, flat(511)),
        ],
        firing: [],
      },
    ],
  },
  {
    alert: 'RedlineDroppingStatsdLines',
    uid: 'redline-dropping-statsd',
    title: 'Redline dropping statsd samples',
    expr: `increase(redline_statsd_dropped_total[${WINDOW}]) > 0`,
    for: '2s',
    severity: 'warning',
    verdict: 'observer',
    summary: 'Redline on {{ $labels.instance }} is dropping statsd samples ({{ $labels.reason }})',
    description:
      'Valid samples could not be stored: series_limit means more distinct series than --statsd.max-series (often a request id or URL used as a tag), ' +
      'type_conflict means one name sent as two statsd types. The dashboards miss that data. Look next at the Redline agent dashboard (series by type, drops by reason).',
    cases: [
      {
        name: 'drops counting up fire within 30 s',
        onset: ONSET,
        series: [s(`redline_statsd_dropped_total{reason="series_limit", ${T}}`, counter(onsetSeq(0, 10)))],
        firing: [{ reason: 'series_limit', ...TL }],
      },
      {
        name: 'a drop every 5 to 15 s fires and does not flap',
        onset: ONSET,
        noisy: true,
        series: [s(`redline_statsd_dropped_total{reason="type_conflict", ${T}}`, counter(onsetSeq(0, Array.from({ length: N }, (_, i) => ([0, 6, 17, 24, 38, 44, 55, 70, 78, 85].includes(i % 90) ? 1 : 0)))))],
        firing: [{ reason: 'type_conflict', ...TL }],
      },
      {
        name: 'a flat drop counter stays quiet',
        series: [s(`redline_statsd_dropped_total{reason="series_limit", ${T}}`, flat(10))],
        firing: [],
      },
    ],
  },
];

export const RULE_GROUP = 'redline-saturation';
/**
 * Rule evaluation interval. With the agent scraped every second (provisioning/prometheus), the
 * windowed statistics above see ~20 samples and an alert fires within 30 s of its onset.
 */
export const EVAL_INTERVAL = '1s';

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
            keep_firing_for: KEEP_FIRING_FOR,
            labels: ruleLabels(r),
            annotations: { summary: r.summary, description: r.description },
          })),
        ],
      },
    ],
  };
}

const seconds = (n: number): string => `${n}s`;

function expected(r: AlertRule, firing: Array<Record<string, string>>): object[] {
  return firing.map((l) => {
    const labels = { ...l, ...ruleLabels(r) };
    return {
      exp_labels: labels,
      exp_annotations: { summary: expandTemplate(r.summary, labels), description: expandTemplate(r.description, labels) },
    };
  });
}

/**
 * One promtool test per case. A firing case checks: quiet the second before its onset; firing
 * (exact labels and annotations) `within` seconds after it; firing at every evaluation from
 * then to `until` without a break (counted on the ALERTS series promtool records: a flap would
 * miss at least one evaluation); and, when `until` is before the end, resolved at the end.
 * A quiet case checks that no evaluation over the whole series was firing.
 */
export function promtoolTests(ruleFile: string): object {
  return {
    rule_files: [ruleFile],
    evaluation_interval: EVAL_INTERVAL,
    tests: ALERT_RULES.flatMap((r) =>
      r.cases.map((c) => {
        const firingSel = `ALERTS{alertname="${r.alert}", alertstate="firing"}`;
        if (c.firing.length === 0) {
          return {
            name: `${r.alert}: ${c.name}`,
            interval: '1s',
            input_series: c.series,
            alert_rule_test: [{ eval_time: seconds(END), alertname: r.alert, exp_alerts: [] }],
            promql_expr_test: [{ expr: `count_over_time(${firingSel}[${END + 1}s])`, eval_time: seconds(END), exp_samples: [] }],
          };
        }
        if (c.onset === undefined) throw new Error(`${r.alert}: ${c.name}: a firing case needs its onset`);
        const firedBy = c.onset + (c.within ?? FIRE_WITHIN_SECONDS);
        const until = c.until ?? END;
        // Evaluations from firedBy to until, inclusive, one a second; the range excludes the one before.
        const evaluations = until - firedBy + 1;
        return {
          name: `${r.alert}: ${c.name}`,
          interval: '1s',
          input_series: c.series,
          alert_rule_test: [
            { eval_time: seconds(c.onset - 1), alertname: r.alert, exp_alerts: [] },
            { eval_time: seconds(firedBy), alertname: r.alert, exp_alerts: expected(r, c.firing) },
            { eval_time: seconds(until), alertname: r.alert, exp_alerts: expected(r, c.firing) },
            ...(until < END ? [{ eval_time: seconds(END), alertname: r.alert, exp_alerts: [] }] : []),
          ],
          promql_expr_test: [
            {
              expr: `min(count_over_time(${firingSel}[${evaluations * 1000 - 500}ms]))`,
              eval_time: seconds(until),
              exp_samples: [{ labels: '{}', value: evaluations }],
            },
          ],
        };
      }),
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
