/**
 * The live view's reading of the analysis stage, through its exported API only: the saturation
 * ratios of the last tick (its history's newest row), its verdict, and its ramp steps and knee.
 * Nothing here judges a ratio: thresholds, verdict and knee are the stage's.
 */
import type { AnalysisSnapshot } from '../../analysis/stage.js';
import type { HistoryData } from '../../analysis/history.js';
import type { Verdict as AnalysisVerdict, Crossing } from '../../analysis/verdict.js';
import { resourceDefinition } from '../../analysis/thresholds.js';
import type { Knee, Saturated, SeriesInfo, Verdict } from './model.js';

/** What the live view needs of the analysis stage (`Analysis` in analysis/stage.ts has it). */
export interface AnalysisFeed {
  onTick(fn: () => void): () => void;
  snapshot(sinceSeconds?: number): AnalysisSnapshot;
  /** Steps and knee over the whole history, computed once per tick for every reader. */
  stepsAndKnee(): Pick<AnalysisSnapshot, 'steps' | 'knee'>;
  readonly verdict: AnalysisVerdict;
  readonly lastTickSeconds: number;
  readonly history: { toJSON(sinceSeconds?: number): HistoryData; readonly intervalSeconds: number };
}

export interface RatioReading {
  id: string;
  info: () => Omit<SeriesInfo, 'id'>;
  value: number | null;
}

/** The ratios of the stage's newest history row, as live view series. */
export function latestRatios(feed: AnalysisFeed): RatioReading[] {
  const h = feed.history.toJSON(feed.lastTickSeconds - feed.history.intervalSeconds / 2);
  const out: RatioReading[] = [];
  for (const r of h.ratios) {
    const panel = r.role === 'sut' ? 'saturation' : 'injector';
    const def = resourceDefinition(r.resource);
    out.push({
      id: `${panel}.${r.group}.${r.resource}`,
      info: () => ({ panel, name: def.title, unit: 'ratio', group: r.group, role: r.role, resource: r.resource, limit: 1, threshold: def.saturatedAt[r.role] }),
      value: r.values[r.values.length - 1] ?? null,
    });
  }
  return out;
}

/** The stage's verdict in the live view's terms (onsets in epoch milliseconds). */
export function verdictOf(v: AnalysisVerdict, ratioNow: (id: string) => number | null): Verdict {
  const side = (c: Crossing | null): Saturated | null => {
    if (c === null) return null;
    const panel = c.role === 'sut' ? 'saturation' : 'injector';
    return { group: c.group, resource: c.resource, onsetMs: c.onset * 1000, ratio: ratioNow(`${panel}.${c.group}.${c.resource}`) ?? c.value };
  };
  return { state: v.state, sut: side(v.sut), injector: side(v.injector), source: 'analysis' };
}

/** The stage's ramp steps and knee, for the knee charts. */
export function kneeOf(s: Pick<AnalysisSnapshot, 'steps' | 'knee'>): Knee[] {
  const steps = s.steps.map((st) => ({
    load: st.load,
    loadUnit: st.loadKind === 'active_users' ? ('users' as const) : ('processes' as const),
    throughput: st.achievedRps,
    p95Seconds: st.latencyP95Seconds,
    seconds: st.end - st.start,
  }));
  const i = s.knee.step === null ? -1 : s.steps.findIndex((st) => st.step === s.knee.step);
  return [{ run: '', steps, kneeIndex: i < 0 ? null : i }];
}
