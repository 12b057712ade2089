/**
 * The run's answer in a few fields and sentences: the report's JSON, the verdict in words and the
 * step table. Built from an analysis snapshot, whether it came from a running agent or was
 * recomputed from a Prometheus history.
 */
import { replay, type Crossing, type Limit, type Verdict } from './verdict.js';
import { DEFAULT_STEP_OPTIONS, findKnee, findSteps, fmtSeconds, resourceTitle, stepAt, type Knee, type Step, type StepOptions } from './steps.js';
import { describeResources, type AnalysisSnapshot } from './stage.js';
import type { HistoryData } from './history.js';
import { RESOURCES } from './thresholds.js';

/** The JSON `redline report --json` prints (and `--baseline` reads). */
export interface ReportJson {
  verdict: { limit: Limit; group: string | null; resource: string | null; onset: string | null };
  knee: { step: number | null; load: number | null; throughput: number | null };
  steps: Step[];
}

/** A snapshot recomputed from a history alone (the verdict replayed over its ratios). */
export function snapshotFromHistory(history: HistoryData, opts: StepOptions = DEFAULT_STEP_OPTIONS): AnalysisSnapshot {
  const verdict = replay(history);
  const steps = findSteps(history, verdict, opts);
  return { version: 1, now: history.t[history.t.length - 1] ?? 0, verdict, knee: findKnee(steps), steps, history, resources: describeResources(history) };
}

export function reportJson(s: Pick<AnalysisSnapshot, 'verdict' | 'knee' | 'steps'>): ReportJson {
  const first = s.verdict.first;
  return {
    verdict: {
      limit: s.verdict.limit,
      group: first?.group ?? null,
      resource: first?.resource ?? null,
      onset: first ? new Date(first.onset * 1000).toISOString() : null,
    },
    knee: { step: s.knee.step, load: s.knee.load, throughput: s.knee.throughput },
    steps: s.steps,
  };
}

function side(c: Crossing): string {
  return c.role === 'sut' ? 'the system under test' : 'the INJECTOR';
}

function where(steps: readonly Step[], c: Crossing): string {
  const st = stepAt(steps, c.onset);
  return st ? `step ${st.step} (${loadText(st)})` : `${new Date(c.onset * 1000).toISOString()}`;
}

export function loadText(s: Pick<Step, 'load' | 'loadKind'>): string {
  return s.loadKind === 'active_users' ? `${s.load} ${s.load === 1 ? 'user' : 'users'}` : `${s.load} injector ${s.load === 1 ? 'process' : 'processes'}`;
}

/** The verdict in sentences, as the terminal, the HTML banner and the demo print it. */
export function verdictText(v: Verdict, knee: Knee, steps: readonly Step[]): string {
  const kneeText =
    knee.step !== null
      ? `Throughput stopped following the load at step ${knee.step} (${loadText({ load: knee.load ?? 0, loadKind: steps[0]?.loadKind ?? 'injector_processes' })}, ${knee.throughput?.toFixed(1)} requests/s).`
      : steps.length > 0
        ? 'Throughput followed the load at every step.'
        : 'No ramp steps were seen (no injector processes or active users).';
  const first = v.first;
  if (first === null) return `${kneeText} Nothing saturated.`;
  const what = `${resourceTitle(first.resource)} of ${first.group}`;
  const parts = [kneeText];
  if (first.role === 'injector') {
    parts.push(`The first thing to saturate was ${what} — ${side(first)} — at ${where(steps, first)}: from there on the results measure the injector, not the system under test. Add injector processes or hosts, or make each lighter.`);
  } else {
    parts.push(`The first thing to saturate was ${what} at ${where(steps, first)}.`);
  }
  if (v.sut && v.injector) {
    const other = first.role === 'sut' ? v.injector : v.sut;
    parts.push(`${other.role === 'sut' ? 'The system under test' : 'The injector'} saturated too: ${resourceTitle(other.resource)} of ${other.group} at ${where(steps, other)}.`);
  } else if (first.role === 'sut') {
    parts.push('The injector stayed healthy.');
  }
  return parts.join(' ');
}

/** A short title for a banner: "SUT saturated: api, busiest thread CPU". */
export function verdictTitle(v: Verdict): string {
  switch (v.limit) {
    case 'none':
      return 'OK: nothing saturated';
    case 'sut':
      return `SUT saturated: ${v.sut!.group}, ${resourceTitle(v.sut!.resource)}`;
    case 'injector':
      return `INJECTOR saturated: ${v.injector!.group}, ${resourceTitle(v.injector!.resource)} — results invalid`;
    case 'both':
      return `SUT and INJECTOR saturated: ${v.sut!.group}, ${resourceTitle(v.sut!.resource)}; ${v.injector!.group}, ${resourceTitle(v.injector!.resource)}`;
  }
}

const HEADER = ['step', 'load', 'offered/s', 'achieved/s', 'p50', 'p95', 'p99', 'err%', 'host-cpu', 'sut-cpu', 'acceptq', 'sut-worst', 'inj-worst', 'saturated'];

const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(0)}%`);

/**
 * The worst SUT group's reading of one resource over a step (its mean, or its peak), or null when
 * no SUT group has it: the very ratio the verdict reads.
 */
export function sutReading(s: Step, resource: string, of: 'mean' | 'peak'): number | null {
  let worst: number | null = null;
  for (const r of s.saturation) if (r.role === 'sut' && r.resource === resource && (worst === null || r[of] > worst)) worst = r[of];
  return worst;
}

/**
 * The step table, fixed-width, one line per step. Host CPU stands next to the SUT's busiest thread
 * (cpu_thread, share of one core) so a busy host is told from a busy service; acceptq is the
 * accept_queue ratio the verdict reads (its peak over the step).
 */
export function stepTable(steps: readonly Step[]): string {
  const rows = steps.map((s) => {
    const worst = (role: 'sut' | 'injector'): string => {
      const r = s.saturation.filter((x) => x.role === role).sort((a, b) => b.mean - a.mean)[0];
      return r ? `${r.mean.toFixed(2)} ${r.resource}` : '-';
    };
    return [
      String(s.step),
      String(s.load),
      s.offeredRps === null ? '-' : s.offeredRps.toFixed(1),
      s.achievedRps.toFixed(1),
      fmtSeconds(s.latencyP50Seconds),
      fmtSeconds(s.latencyP95Seconds),
      fmtSeconds(s.latencyP99Seconds),
      (s.errorRatio * 100).toFixed(1),
      pct(s.hostCpu),
      pct(sutReading(s, RESOURCES.cpu_thread.resource, 'mean')),
      pct(sutReading(s, RESOURCES.accept_queue.resource, 'peak')),
      worst('sut'),
      worst('injector'),
      s.saturation.filter((x) => x.saturated).map((x) => `${x.group}/${x.resource}`).join(', ') || '-',
    ];
  });
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padStart(widths[c]!))).join('  ')).join('\n');
}
