/**
 * Reads the series store once a tick and turns it into the part of a live view row that the
 * analysis stage does not hold: the load, throughput, latency and errors of each env/run (the
 * recipes' `loadtest_*` names, split by their `env` and `run` labels for the run picker), and the
 * agent's own intake. Saturation, verdict and knee come from the analysis stage. The store is read directly (no `collect()`), so the view never
 * moves the windows that `/metrics` readers see (the agent's own event-loop lag is "since the
 * previous scrape").
 */
import type { Family, Series, Store } from '../../core/store.js';
import { labelsOf } from './labels.js';
import type { PanelKind, RunInfo, SeriesInfo, Unit, Verdict } from './model.js';

/** The agent's intake counters, read straight from the statsd ingest (cumulative). */
export interface IntakeCounters {
  lines: number;
  /** Malformed lines by reason. */
  rejected: ReadonlyMap<string, number>;
  /** Valid samples not stored, by reason (series cap, conflicts, mapping drops). */
  dropped: ReadonlyMap<string, number>;
}

/** Window over which rates and latency quantiles are taken, in ticks. */
const RATE_WINDOW = 5;

interface RunAcc {
  info: RunInfo;
  users: number;
  offered: number;
  hasUsers: boolean;
  hasOffered: boolean;
  requests: number;
  errors: number;
  /** Cumulative bucket counts (histogram) summed over the run's series; null when no histogram. */
  buckets: Float64Array | null;
  bounds: Float64Array | null;
  /** Summary quantiles, when the duration is a summary: max over series. */
  summaryQ: Map<number, number> | null;
  seen: boolean;
}

interface RunHistory {
  /** Ring of the last RATE_WINDOW+1 readings. */
  t: number[];
  requests: number[];
  errors: number[];
  buckets: (Float64Array | null)[];
}

export class Sampler {
  readonly series: SeriesInfo[] = [];
  private readonly index = new Map<string, number>();
  catalogVersion = 0;
  /** Series refused because the catalogue is full (bounded memory). */
  refusedSeries = 0;
  private values: (number | null)[] = [];
  private readonly runs = new Map<string, RunHistory>();
  readonly runInfos = new Map<string, RunInfo>();
  private readonly intakeWindow: { t: number; lines: number; rejected: Map<string, number>; dropped: Map<string, number> }[] = [];
  private verdictNow: Verdict = { state: 'ok', sut: null, injector: null, source: 'live' };

  constructor(
    private readonly store: Store,
    private readonly intake: (() => IntakeCounters) | null,
    private readonly maxSeries = 2000,
  ) {}

  get verdict(): Verdict {
    return this.verdictNow;
  }

  set verdict(v: Verdict) {
    this.verdictNow = v;
  }

  /** This tick's value of a series of the catalogue (index), or null. */
  valueOf(id: string): number | null {
    const i = this.index.get(id);
    return i === undefined ? null : (this.values[i] ?? null);
  }

  /** Reads the store; returns this second's values, aligned with `series`. */
  sample(nowMs: number): (number | null)[] {
    this.values = new Array<number | null>(this.series.length).fill(null);
    this.sampleLoad(nowMs);
    this.sampleIntake(nowMs);
    // Series added during this sample extend the row.
    while (this.values.length < this.series.length) this.values.push(null);
    return this.values;
  }

  /** Sets this tick's value of a series, adding it to the catalogue on its first value. */
  set(id: string, info: () => Omit<SeriesInfo, 'id'>, v: number | null): void {
    let i = this.index.get(id);
    if (i === undefined) {
      if (v === null || this.series.length >= this.maxSeries) {
        if (v !== null) this.refusedSeries++;
        return;
      }
      i = this.series.length;
      this.series.push({ id, ...info() });
      this.index.set(id, i);
      this.catalogVersion++;
      while (this.values.length < this.series.length) this.values.push(null);
    }
    this.values[i] = v === null || Number.isFinite(v) ? v : null;
  }

  // ------------------------------------------------------------------ load, throughput, latency

  private sampleLoad(nowMs: number): void {
    const acc = new Map<string, RunAcc>();
    const get = (s: Series): RunAcc => {
      const l = labelsOf(s);
      const env = l.get('env') ?? '';
      const run = l.get('run') ?? '';
      const key = env || run ? `${env}/${run}` : '';
      let a = acc.get(key);
      if (a === undefined) {
        a = {
          info: { key, env, run },
          users: 0,
          offered: 0,
          hasUsers: false,
          hasOffered: false,
          requests: 0,
          errors: 0,
          buckets: null,
          bounds: null,
          summaryQ: null,
          seen: false,
        };
        acc.set(key, a);
      }
      a.seen = true;
      return a;
    };
    const fam = (n: string): Family | undefined => this.store.families.get(n);
    for (const s of fam('loadtest_active_users')?.series.values() ?? []) {
      const a = get(s);
      a.users += s.value;
      a.hasUsers = true;
    }
    for (const s of fam('loadtest_offered_rate')?.series.values() ?? []) {
      const a = get(s);
      a.offered += s.value;
      a.hasOffered = true;
    }
    for (const s of fam('loadtest_requests_total')?.series.values() ?? []) get(s).requests += s.value;
    for (const s of fam('loadtest_errors_total')?.series.values() ?? []) get(s).errors += s.value;
    const dur = fam('loadtest_request_duration_seconds');
    if (dur?.type === 'histogram' && dur.bounds) {
      for (const s of dur.series.values()) {
        const a = get(s);
        if (a.buckets === null) {
          a.buckets = new Float64Array(dur.bounds.length + 1);
          a.bounds = dur.bounds;
        }
        let cum = 0;
        const b = s.buckets!;
        for (let i = 0; i < b.length; i++) {
          cum += b[i]!;
          a.buckets[i]! += cum;
        }
        a.buckets[b.length]! += s.count;
      }
    } else if (dur?.type === 'summary' && dur.summaryOptions) {
      const qs = dur.summaryOptions.quantiles;
      for (const s of dur.series.values()) {
        const a = get(s);
        a.summaryQ ??= new Map();
        const vals = s.summary!.quantiles(nowMs);
        qs.forEach((q, i) => {
          const v = vals[i]!;
          if (Number.isFinite(v)) a.summaryQ!.set(q.quantile, Math.max(a.summaryQ!.get(q.quantile) ?? 0, v));
        });
      }
    }

    let injectors: number | null = null;
    for (const s of fam('redline_injector_processes')?.series.values() ?? []) injectors = (injectors ?? 0) + s.value;
    this.set('load.injectors', () => ({ panel: 'load', name: 'injector processes', unit: 'processes' }), injectors);

    for (const [key, a] of acc) {
      this.runInfos.set(key, a.info);
      const at = (id: string): string => (key === '' ? id : `${id}@${key}`);
      const info = (panel: PanelKind, name: string, unit: Unit) => () => ({ panel, name, unit, run: key });
      this.set(at('load.users'), info('load', 'active users', 'users'), a.hasUsers ? a.users : null);
      this.set(at('throughput.offered'), info('throughput', 'offered', 'req/s'), a.hasOffered ? a.offered : null);

      let h = this.runs.get(key);
      if (h === undefined) {
        h = { t: [], requests: [], errors: [], buckets: [] };
        this.runs.set(key, h);
      }
      h.t.push(nowMs);
      h.requests.push(a.requests);
      h.errors.push(a.errors);
      h.buckets.push(a.buckets);
      if (h.t.length > RATE_WINDOW + 1) {
        h.t.shift();
        h.requests.shift();
        h.errors.shift();
        h.buckets.shift();
      }
      const first = 0;
      const last = h.t.length - 1;
      const dt = (h.t[last]! - h.t[first]!) / 1000;
      let achieved: number | null = null;
      let errRatio: number | null = null;
      let p50: number | null = null;
      let p95: number | null = null;
      let p99: number | null = null;
      if (dt > 0) {
        const dReq = h.requests[last]! - h.requests[first]!;
        const dErr = h.errors[last]! - h.errors[first]!;
        // A counter that went back (series expired, injector restarted) gives no rate this window.
        if (dReq >= 0) {
          achieved = dReq / dt;
          if (dErr >= 0) errRatio = dReq > 0 ? Math.min(1, dErr / dReq) : dErr > 0 ? 1 : 0;
        }
        const b0 = h.buckets[first];
        const b1 = h.buckets[last];
        if (b0 && b1 && b0.length === b1.length && a.bounds) {
          const delta = new Float64Array(b1.length);
          let ok = true;
          for (let i = 0; i < b1.length; i++) {
            delta[i] = b1[i]! - b0[i]!;
            if (delta[i]! < 0) ok = false;
          }
          if (ok) {
            p50 = histogramQuantile(0.5, a.bounds, delta);
            p95 = histogramQuantile(0.95, a.bounds, delta);
            p99 = histogramQuantile(0.99, a.bounds, delta);
          }
        } else if (b1 && !b0 && a.bounds) {
          // First reading of a new histogram: nothing to difference yet.
        }
      }
      if (a.summaryQ) {
        p50 = a.summaryQ.get(0.5) ?? null;
        p95 = a.summaryQ.get(0.95) ?? a.summaryQ.get(0.9) ?? null;
        p99 = a.summaryQ.get(0.99) ?? null;
      }
      this.set(at('throughput.achieved'), info('throughput', 'achieved', 'req/s'), achieved);
      this.set(at('latency.p50'), info('latency', 'p50', 'seconds'), p50);
      this.set(at('latency.p95'), info('latency', 'p95', 'seconds'), p95);
      this.set(at('latency.p99'), info('latency', 'p99', 'seconds'), p99);
      this.set(at('errors.ratio'), info('errors', 'error ratio', 'percent'), errRatio);
    }
  }

  // ------------------------------------------------------------------ the agent's intake

  private sampleIntake(nowMs: number): void {
    if (this.intake === null) return;
    const c = this.intake();
    const row = { t: nowMs, lines: c.lines, rejected: new Map(c.rejected), dropped: new Map(c.dropped) };
    const w = this.intakeWindow;
    w.push(row);
    if (w.length > RATE_WINDOW + 1) w.shift();
    const prev = w[0]!;
    if (nowMs <= prev.t) return;
    // Over the same window as the load's rates: senders and ticks are not in phase.
    const dt = (nowMs - prev.t) / 1000;
    const rate = (now: number, before: number): number | null => (now >= before ? (now - before) / dt : null);
    const info = (name: string) => () => ({ panel: 'intake' as const, name, unit: 'lines/s' as const });
    this.set('intake.lines', info('lines received'), rate(row.lines, prev.lines));
    let rejTotal = 0;
    let dropTotal = 0;
    for (const [reason, n] of row.rejected) {
      const r = rate(n, prev.rejected.get(reason) ?? 0);
      rejTotal += r ?? 0;
      // A reason gets its own series from the first second it happens.
      if (n > 0) this.set(`intake.rejected.${reason}`, info(`rejected: ${reason}`), r);
    }
    for (const [reason, n] of row.dropped) {
      const r = rate(n, prev.dropped.get(reason) ?? 0);
      dropTotal += r ?? 0;
      if (n > 0) this.set(`intake.dropped.${reason}`, info(`dropped: ${reason}`), r);
    }
    this.set('intake.rejected', info('rejected (all reasons)'), rejTotal);
    this.set('intake.dropped', info('dropped (all reasons)'), dropTotal);
  }
}

/**
 * `histogram_quantile` as Prometheus computes it: linear interpolation inside the bucket that
 * holds the rank; the +Inf bucket answers with the highest finite bound.
 * `cumulative` has one count per finite bound plus the total.
 */
export function histogramQuantile(q: number, bounds: Float64Array, cumulative: Float64Array): number | null {
  const total = cumulative[cumulative.length - 1]!;
  if (!(total > 0)) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      if (inBucket <= 0) return bounds[i]!;
      return lower + (bounds[i]! - lower) * ((rank - below) / inBucket);
    }
  }
  return bounds[bounds.length - 1]!;
}
