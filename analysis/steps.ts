/**
 * Ramp steps and the knee, from a recorded history. A step is a run of rows with the same load
 * (injector processes, or active users when the injectors report them and the process count does
 * not move: see loadKind); its throughput and latency are measured after a short warm-up, so the requests of the
 * step before do not count in it. The knee is the first step where achieved throughput no longer
 * follows the load while latency rises (or errors appear).
 */
import { KNEE, VERDICT_TIMING, resourceDefinition } from './thresholds.js';
import type { HistoryData, RatioKey } from './history.js';
import type { Verdict } from './verdict.js';

export interface StepSaturation extends RatioKey {
  /** Mean and peak ratio over the step's measured window. */
  mean: number;
  peak: number;
  /** True when the verdict had it saturated at any time within the step. */
  saturated: boolean;
}

export interface Step {
  step: number;
  /** The load axis value: injector processes or active users. */
  load: number;
  loadKind: LoadKind;
  injectorProcesses: number | null;
  activeUsers: number | null;
  /** Epoch seconds: first and last row of the step, and where its measured window starts. */
  start: number;
  end: number;
  measuredFrom: number;
  offeredRps: number | null;
  achievedRps: number;
  errorRatio: number;
  latencyP50Seconds: number | null;
  latencyP95Seconds: number | null;
  latencyP99Seconds: number | null;
  hostCpu: number | null;
  saturation: StepSaturation[];
}

export type LoadKind = 'injector_processes' | 'active_users';

export interface Knee {
  step: number | null;
  load: number | null;
  throughput: number | null;
  reason: string | null;
}

export interface StepOptions {
  /** Runs of the same load shorter than this are transitions, not steps. */
  minStepSeconds: number;
  /** Seconds at the start of a step left out of its measurement (capped at a third of the step). */
  warmupSeconds: number;
}

export const DEFAULT_STEP_OPTIONS: StepOptions = { minStepSeconds: 3, warmupSeconds: 2 };

/** A value a row holds: not null, not missing, not NaN (typed histories use NaN). */
function present(v: number | null | undefined): v is number {
  return v !== null && v !== undefined && !Number.isNaN(v);
}

/** Rows without a value a run may span: a scrape or two Prometheus missed do not end a step. */
export const MAX_GAP_ROWS = 5;

/** Runs of rows with the same positive load value (rounded); a load of 0 ends a run, a short gap does not. */
function loadRuns(load: ArrayLike<number | null>): Array<{ load: number; from: number; to: number }> {
  const runs: Array<{ load: number; from: number; to: number }> = [];
  let ended = true;
  for (let i = 0; i < load.length; i++) {
    const v = load[i];
    if (!present(v)) continue;
    if (v <= 0) {
      ended = true;
      continue;
    }
    const r = Math.round(v);
    const last = runs[runs.length - 1];
    if (!ended && last !== undefined && last.load === r && i - last.to - 1 <= MAX_GAP_ROWS) last.to = i;
    else runs.push({ load: r, from: i, to: i });
    ended = false;
  }
  return runs;
}

/**
 * Which load series is the ramp's axis: the injector process count when it moves (takes two or
 * more values); else active users when their runs make more steps (one process ramping its
 * virtual users, as k6 or Locust do, or users reported with no injector process counted). An open-model injector reports as active users
 * the scenarios in flight, which change every second and make no steps: the process count stays
 * the axis, from the first step of a ramp on.
 */
export function loadKind(h: HistoryData, minRows = 1): LoadKind {
  const procRuns = loadRuns(h.injectorProcesses);
  if (new Set(procRuns.map((r) => r.load)).size >= 2) return 'injector_processes';
  const steps = (runs: ReturnType<typeof loadRuns>): number => runs.filter((r) => r.to - r.from + 1 >= minRows).length;
  const users = steps(loadRuns(h.activeUsers));
  const procs = steps(procRuns);
  // More steps than the process count makes, and two at least unless no process is counted.
  return users > procs && (users >= 2 || procs === 0) ? 'active_users' : 'injector_processes';
}

export function findSteps(h: HistoryData, verdict: Verdict | null, opts: StepOptions = DEFAULT_STEP_OPTIONS): Step[] {
  const minRows = Math.max(1, Math.round(opts.minStepSeconds / h.intervalSeconds));
  const kind = loadKind(h, minRows);
  const runs = loadRuns(kind === 'active_users' ? h.activeUsers : h.injectorProcesses);
  const steps: Step[] = [];
  for (const run of runs) {
    if (run.to - run.from + 1 < minRows) continue;
    steps.push(measure(h, verdict, kind, steps.length + 1, run, opts));
  }
  return steps;
}

function measure(h: HistoryData, verdict: Verdict | null, kind: LoadKind, n: number, run: { load: number; from: number; to: number }, opts: StepOptions): Step {
  const rows = run.to - run.from + 1;
  const warm = Math.min(Math.round(opts.warmupSeconds / h.intervalSeconds), Math.floor(rows / 3));
  const from = run.from + warm;
  const mean = (a: Array<number | null>): number | null => {
    let s = 0;
    let c = 0;
    for (let i = from; i <= run.to; i++) {
      const v = a[i];
      if (present(v)) {
        s += v;
        c++;
      }
    }
    return c > 0 ? s / c : null;
  };
  // The offered rate is the schedule, constant within a step: its median ignores the row or two
  // at a boundary where the next injector already reports its rate but the host collector has not
  // counted its process yet (a mean there read 63.75/s for a 60/s step).
  const median = (a: Array<number | null>): number | null => {
    const vs: number[] = [];
    for (let i = from; i <= run.to; i++) {
      const v = a[i];
      if (present(v)) vs.push(v);
    }
    if (vs.length === 0) return null;
    vs.sort((x, y) => x - y);
    const mid = vs.length >> 1;
    return vs.length % 2 === 1 ? vs[mid]! : (vs[mid - 1]! + vs[mid]!) / 2;
  };
  const offered = median(h.offeredRps);
  const requests = mean(h.requestsRps) ?? 0;
  const errors = mean(h.errorsRps) ?? 0;
  let achieved = Math.max(0, requests - errors);
  // Requests offered in an earlier step and completed in this one are not this step's
  // throughput: achieved is never more than what was offered.
  if (offered !== null && offered > 0) achieved = Math.min(achieved, offered);
  const buckets = h.latencyBuckets.map((b) => {
    let s = 0;
    for (let i = from; i <= run.to; i++) {
      const v = b[i];
      if (present(v)) s += v;
    }
    return s;
  });
  const start = h.t[run.from]!;
  const end = h.t[run.to]!;
  const saturation: StepSaturation[] = [];
  for (const r of h.ratios) {
    let s = 0;
    let c = 0;
    let peak = -Infinity;
    for (let i = from; i <= run.to; i++) {
      const v = r.values[i];
      if (!present(v)) continue;
      s += v;
      c++;
      peak = Math.max(peak, v);
    }
    if (c === 0) continue;
    // Saturated in this step: the verdict saturated it with an onset at or before the step's end
    // (a crossing that settled in a later step still started here: the verdict names this step),
    // and the step reached the threshold: where the onset lies, or with readings near it all along.
    const threshold = resourceDefinition(r.resource).saturatedAt[r.role];
    const onsets = (verdict?.crossings ?? []).filter((x) => x.group === r.group && x.role === r.role && x.resource === r.resource && x.onset <= end).map((x) => x.onset);
    const onsetHere = onsets.some((o) => o >= start);
    const saturated = onsets.length > 0 && peak >= threshold && (onsetHere || s / c >= VERDICT_TIMING.exitFactor * threshold);
    saturation.push({ group: r.group, role: r.role, resource: r.resource, mean: round(s / c), peak: round(peak), saturated });
  }
  return {
    step: n,
    load: run.load,
    loadKind: kind,
    injectorProcesses: roundOrNull(mean(h.injectorProcesses)),
    activeUsers: roundOrNull(mean(h.activeUsers)),
    start,
    end,
    measuredFrom: h.t[from]!,
    offeredRps: roundOrNull(offered),
    achievedRps: round(achieved),
    errorRatio: requests > 0 ? round(errors / requests) : 0,
    latencyP50Seconds: roundOrNull(bucketQuantile(0.5, h.latencyBounds, buckets)),
    latencyP95Seconds: roundOrNull(bucketQuantile(0.95, h.latencyBounds, buckets)),
    latencyP99Seconds: roundOrNull(bucketQuantile(0.99, h.latencyBounds, buckets)),
    hostCpu: roundOrNull(mean(h.hostCpu)),
    saturation,
  };
}

/** histogram_quantile over non-cumulative bucket counts (the last is +Inf), linear within a bucket. */
export function bucketQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return null;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (cum + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const hi = bounds[i]!;
      return lo + ((hi - lo) * (rank - cum)) / c;
    }
    cum += c;
  }
  return bounds[bounds.length - 1] ?? null;
}

/** The knee: throughput stops following the load while latency rises (or errors appear). */
export function findKnee(steps: readonly Step[]): Knee {
  const none: Knee = { step: null, load: null, throughput: null, reason: null };
  const base = steps[0];
  if (base === undefined) return none;
  const baseLatency = base.latencyP95Seconds;
  let bestPerLoad = base.load > 0 ? base.achievedRps / base.load : 0;
  for (const s of steps.slice(1)) {
    const followsOffered = s.offeredRps === null || s.offeredRps <= 0 || s.achievedRps >= KNEE.followShare * s.offeredRps;
    const perLoad = s.load > 0 ? s.achievedRps / s.load : 0;
    const followsLoad = perLoad >= KNEE.followShare * bestPerLoad;
    const following = s.offeredRps !== null && s.offeredRps > 0 ? followsOffered : followsLoad;
    const latencyRisen =
      baseLatency !== null && s.latencyP95Seconds !== null && s.latencyP95Seconds >= Math.max(KNEE.latencyFactor * baseLatency, KNEE.latencyFloorSeconds);
    const errors = s.errorRatio >= KNEE.errorShare;
    if (!following && (latencyRisen || errors)) {
      const why = s.offeredRps !== null && s.offeredRps > 0
        ? `achieved ${s.achievedRps.toFixed(1)}/s of ${s.offeredRps.toFixed(1)}/s offered`
        : `achieved ${s.achievedRps.toFixed(1)}/s, ${(perLoad / bestPerLoad * 100).toFixed(0)}% of the throughput per unit of load of the best step`;
      const rise = errors
        ? `${(s.errorRatio * 100).toFixed(1)}% of requests failed`
        : `latency p95 ${fmtSeconds(s.latencyP95Seconds)} against ${fmtSeconds(baseLatency)} at step 1`;
      return { step: s.step, load: s.load, throughput: s.achievedRps, reason: `${why}; ${rise}` };
    }
    bestPerLoad = Math.max(bestPerLoad, perLoad);
  }
  return none;
}

export function fmtSeconds(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  return v < 1 ? `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms` : `${v.toFixed(2)} s`;
}

/** The step a moment falls in (the last step that started at or before it). */
export function stepAt(steps: readonly Step[], tSeconds: number): Step | null {
  let found: Step | null = null;
  for (const s of steps) if (s.start <= tSeconds) found = s;
  return found;
}

/** Human text for a resource label value. */
export function resourceTitle(resource: string): string {
  return resourceDefinition(resource).title;
}

function round(v: number): number {
  return Number(v.toPrecision(6));
}

function roundOrNull(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : round(v);
}
