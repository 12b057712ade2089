/**
 * The verdict as data: per (group, role, resource), a saturated/not state with hysteresis over a
 * short window of ratios (VERDICT_TIMING), so a noisy ratio hovering at its threshold does not
 * flap, and a real onset settles within the enter window. The overall state follows from the
 * resources saturated now; the first saturated resource of each role is kept with its onset.
 *
 * The same machine runs live in the agent (one update per tick) and offline over a recorded
 * history (`replay`), so the report and the live view agree with /metrics.
 */
import { resourceDefinition, VERDICT_TIMING } from './thresholds.js';
import type { HistoryData, RatioKey } from './history.js';

export type VerdictState = 'ok' | 'sut_saturated' | 'injector_saturated' | 'both';
export const VERDICT_STATES: readonly VerdictState[] = ['ok', 'sut_saturated', 'injector_saturated', 'both'];
export type Limit = 'none' | 'sut' | 'injector' | 'both';

export interface Crossing extends RatioKey {
  /** Epoch seconds of the first sample at or above the threshold in the run that saturated. */
  onset: number;
  /** Epoch seconds at which the state became saturated (onset + the time to settle). */
  settled: number;
  /** The ratio threshold. */
  threshold: number;
  /** The ratio when it settled. */
  value: number;
}

export interface Verdict {
  /** Now, with hysteresis. */
  state: VerdictState;
  /** Over the whole run: which side ever saturated. */
  limit: Limit;
  /** The first saturated resource of the run (either role). */
  first: Crossing | null;
  sut: Crossing | null;
  injector: Crossing | null;
  /** Every resource that saturated during the run, in the order they settled. */
  crossings: Crossing[];
  /** Resources saturated now. */
  saturated: Array<RatioKey & { since: number }>;
}

interface Track {
  key: RatioKey;
  threshold: number;
  /** The last `exitWindow` samples (NaN = none), a ring. */
  samples: Float32Array;
  times: Float64Array;
  next: number;
  saturated: boolean;
  since: number;
  /** Samples taken, and that count when it last saturated. */
  count: number;
  savedAt: number;
}

export class VerdictMachine {
  private readonly tracks = new Map<string, Track>();
  private readonly crossed: Crossing[] = [];
  private readonly enterRows: number;
  private readonly exitRows: number;

  /** `intervalSeconds`: time between updates (windows are counted in samples). */
  constructor(intervalSeconds = 1) {
    this.enterRows = Math.max(1, Math.round(VERDICT_TIMING.enterWindowSeconds / intervalSeconds));
    this.exitRows = Math.max(this.enterRows, Math.round(VERDICT_TIMING.exitWindowSeconds / intervalSeconds));
  }

  /** Feeds one sample of one resource (NaN when it has no value this tick). */
  sample(id: string, key: RatioKey, tSeconds: number, ratio: number): void {
    let tr = this.tracks.get(id);
    if (tr === undefined) {
      tr = {
        key: { group: key.group, role: key.role, resource: key.resource },
        threshold: resourceDefinition(key.resource).saturatedAt[key.role],
        samples: new Float32Array(this.exitRows).fill(NaN),
        times: new Float64Array(this.exitRows).fill(NaN),
        next: 0,
        saturated: false,
        since: 0,
        count: 0,
        savedAt: 0,
      };
      this.tracks.set(id, tr);
    }
    const n = this.exitRows;
    tr.samples[tr.next] = ratio;
    tr.times[tr.next] = tSeconds;
    tr.next = (tr.next + 1) % n;
    tr.count++;
    if (!tr.saturated) {
      let valid = 0;
      let over = 0;
      let onset = NaN;
      // The enter window: the newest `enterRows` samples, oldest first.
      for (let k = this.enterRows; k >= 1; k--) {
        const i = (tr.next - k + n) % n;
        const v = tr.samples[i]!;
        if (Number.isNaN(v)) continue;
        valid++;
        if (v >= tr.threshold) {
          over++;
          if (Number.isNaN(onset)) onset = tr.times[i]!;
        }
      }
      if (valid >= VERDICT_TIMING.minSamples && over >= Math.ceil(VERDICT_TIMING.enterShare * valid)) {
        tr.saturated = true;
        tr.since = onset;
        tr.savedAt = tr.count;
        if (!this.crossed.some((c) => c.group === key.group && c.role === key.role && c.resource === key.resource)) {
          this.crossed.push({ ...tr.key, onset, settled: tSeconds, threshold: tr.threshold, value: Number.isNaN(ratio) ? tr.threshold : ratio });
        }
      }
    } else {
      let valid = 0;
      let near = 0;
      for (let i = 0; i < n; i++) {
        const v = tr.samples[i]!;
        if (Number.isNaN(v)) continue;
        valid++;
        if (v >= VERDICT_TIMING.exitFactor * tr.threshold) near++;
      }
      // Released only once a whole exit window of samples has been taken since it saturated and
      // (nearly) all of them are well below the threshold, or the signal went away.
      if (tr.count - tr.savedAt >= n && (valid < VERDICT_TIMING.minSamples || near < VERDICT_TIMING.exitShare * valid)) tr.saturated = false;
    }
  }

  /** Forgets resources not sampled in the last exit window (a group that went away). */
  sweep(tSeconds: number): void {
    for (const [id, tr] of this.tracks) {
      const last = tr.times[(tr.next - 1 + this.exitRows) % this.exitRows]!;
      if (tSeconds - last > VERDICT_TIMING.exitWindowSeconds * 2) this.tracks.delete(id);
    }
  }

  verdict(): Verdict {
    const saturated: Array<RatioKey & { since: number }> = [];
    for (const tr of this.tracks.values()) if (tr.saturated) saturated.push({ ...tr.key, since: tr.since });
    saturated.sort((a, b) => a.since - b.since);
    const sutNow = saturated.some((s) => s.role === 'sut');
    const injNow = saturated.some((s) => s.role === 'injector');
    const crossings = [...this.crossed].sort((a, b) => a.onset - b.onset || a.settled - b.settled);
    const sut = crossings.find((c) => c.role === 'sut') ?? null;
    const injector = crossings.find((c) => c.role === 'injector') ?? null;
    return {
      state: sutNow && injNow ? 'both' : sutNow ? 'sut_saturated' : injNow ? 'injector_saturated' : 'ok',
      limit: sut && injector ? 'both' : sut ? 'sut' : injector ? 'injector' : 'none',
      first: crossings[0] ?? null,
      sut,
      injector,
      crossings,
      saturated,
    };
  }
}

export function ratioId(k: RatioKey): string {
  return `${k.role}\u0000${k.group}\u0000${k.resource}`;
}

/** Runs the machine over a recorded history (Prometheus, or an agent's JSON). */
export function replay(h: HistoryData): Verdict {
  const m = new VerdictMachine(h.intervalSeconds);
  const ids = h.ratios.map((r) => ratioId(r));
  for (let i = 0; i < h.t.length; i++) {
    const t = h.t[i]!;
    for (let r = 0; r < h.ratios.length; r++) {
      const col = h.ratios[r]!;
      const v = col.values[i];
      m.sample(ids[r]!, col, t, v === null || v === undefined ? NaN : v);
    }
  }
  return m.verdict();
}
