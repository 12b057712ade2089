/**
 * The live view's engine: after each analysis tick, one row (the stage's ratios and verdict, and
 * the load and intake read from the store) written to the bounded history and serialised once into
 * one Server-Sent Events message that every connected viewer receives. A
 * viewer costs one `write` of a shared string per tick; one that does not read (its socket
 * buffer past `maxBufferedBytes`) is disconnected rather than buffered without bound.
 */
import type { ServerResponse } from 'node:http';
import type { Store, OwnMetric } from '../../core/store.js';
import { History } from './history.js';
import type { About, EmptyGroup, LiveSnapshot, LiveTick } from './model.js';
import { Sampler, type IntakeCounters } from './sampler.js';
import { kneeOf, latestRatios, verdictOf, type AnalysisFeed } from './from-analysis.js';

export interface LiveOptions {
  store: Store;
  /** The statsd ingest's counters, for the intake panel (omitted when the agent has no statsd). */
  intake?: () => IntakeCounters;
  about: () => About;
  /** The analysis stage: the view ticks after each of its ticks and draws its ratios, verdict and knee. */
  analysis: AnalysisFeed;
  /** Declared process groups that match no process (the host collector's `emptyGroups()`), read once a tick. */
  emptyGroups?: () => readonly string[];
  /** Rows of history kept (one per tick). */
  historyRows?: number;
  maxViewers?: number;
  maxSeries?: number;
  /**
   * Ask the stage for steps and knee every this many ticks (fixed). By default every 5 ticks or
   * more, so that it costs at most ~1 % of a core: that interval depends on the machine's speed.
   */
  kneeEveryTicks?: number;
  /** Per-viewer socket buffer past which a viewer that does not read is dropped. */
  maxBufferedBytes?: number;
  now?: () => number;
}

/** Points a snapshot holds at most; longer ranges are thinned. */
export const MAX_POINTS = 1800;

export class LiveView {
  readonly sampler: Sampler;
  readonly history: History;
  private readonly viewers = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | null = null;
  private last: LiveTick | null = null;
  private unsubscribe: (() => void) | null = null;
  private knees: LiveTick['knees'] = [];
  /** Empty declared groups, with when this view first saw each empty. */
  private readonly emptySince = new Map<string, number>();
  private empty: EmptyGroup[] = [];
  /** Snapshot bodies of this tick by range: viewers that load the page in the same second share one. */
  private readonly snapshots = new Map<string, string>();
  /** Ticks until the knee is asked of the analysis stage again, and the gap it earned. */
  private kneeIn = 0;
  private kneeEvery = 5;
  private readonly tickMs: number;
  private readonly maxViewers: number;
  private readonly maxBuffered: number;
  private readonly now: () => number;
  private readonly viewersGauge: OwnMetric;
  private readonly tickSeconds: OwnMetric;
  private readonly dropped: OwnMetric;

  constructor(private readonly opts: LiveOptions) {
    this.tickMs = opts.analysis.history.intervalSeconds * 1000;
    this.maxViewers = opts.maxViewers ?? 100;
    this.maxBuffered = opts.maxBufferedBytes ?? 1 << 20;
    this.now = opts.now ?? Date.now;
    this.sampler = new Sampler(opts.store, opts.intake ?? null, opts.maxSeries ?? 2000);
    this.history = new History(opts.historyRows ?? 7200);
    this.viewersGauge = opts.store.gauge('redline_live_viewers', 'Browsers connected to the live view (Server-Sent Events streams).');
    this.tickSeconds = opts.store.counter('redline_live_tick_seconds_total', 'CPU-bound time the live view spent sampling the store and serialising its ticks, in seconds.');
    this.dropped = opts.store.counter('redline_live_viewers_dropped_total', 'Live view streams closed by the agent, by reason (slow: the browser did not read; limit: too many viewers).', ['reason']);
    this.viewersGauge.set([], 0);
    this.dropped.inc(['slow'], 0);
    this.dropped.inc(['limit'], 0);
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.opts.analysis.onTick(() => this.tick());
    // A comment line every 15 s keeps proxies from closing an idle stream.
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), 15_000);
    this.heartbeat.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const v of this.viewers) v.end();
    this.viewers.clear();
    this.viewersGauge.set([], 0);
  }

  /** Agent facts for the page's corner. */
  about(): About {
    return this.opts.about();
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** One tick: sample, record, serialise once, send to all. */
  tick(): void {
    const start = process.hrtime.bigint();
    const a = this.opts.analysis;
    // The row carries the analysis tick's time, so onsets and rows line up.
    const t = a.lastTickSeconds > 0 ? Math.round(a.lastTickSeconds * 1000) : this.now();
    const s = this.sampler;
    const values = s.sample(t);
    for (const r of latestRatios(a)) s.set(r.id, r.info, r.value);
    s.verdict = verdictOf(a.verdict, (id) => s.valueOf(id));
    if (this.kneeIn-- <= 1) {
      // Steps and knee come from the stage's whole history: asked for every few ticks, less often
      // when that costs more (at most ~1 % of a core).
      const k0 = process.hrtime.bigint();
      this.knees = kneeOf(a.stepsAndKnee());
      const ms = Number(process.hrtime.bigint() - k0) / 1e6;
      this.kneeEvery = this.opts.kneeEveryTicks ?? Math.max(5, Math.ceil((ms * 100) / this.tickMs));
      this.kneeIn = this.kneeEvery;
    }
    this.history.push(t, values);
    this.readEmptyGroups(t);
    this.snapshots.clear();
    const tick: LiveTick = {
      catalogVersion: s.catalogVersion,
      t,
      values,
      verdict: s.verdict,
      knees: this.knees,
      emptyGroups: this.empty,
    };
    this.last = tick;
    if (this.viewers.size > 0) this.broadcast(`data: ${JSON.stringify(tick)}\n\n`);
    this.tickSeconds.inc([], Number(process.hrtime.bigint() - start) / 1e9);
  }

  private readEmptyGroups(t: number): void {
    const now = new Set(this.opts.emptyGroups?.() ?? []);
    for (const g of this.emptySince.keys()) if (!now.has(g)) this.emptySince.delete(g);
    for (const g of now) if (!this.emptySince.has(g)) this.emptySince.set(g, t);
    this.empty = [...this.emptySince].map(([group, sinceMs]) => ({ group, sinceMs }));
  }

  /**
   * The snapshot of a named range as a JSON body, serialised at most once per tick and range:
   * fifty viewers opening the page in the same second cost one slice of the history.
   */
  snapshotJson(range: string, rangeSeconds: number | null): string {
    let body = this.snapshots.get(range);
    if (body === undefined) {
      body = JSON.stringify(this.snapshot(rangeSeconds));
      this.snapshots.set(range, body);
    }
    return body;
  }

  /** The state of the view over the last `rangeSeconds` (the whole history when null). */
  snapshot(rangeSeconds: number | null): LiveSnapshot {
    const s = this.sampler;
    const since = rangeSeconds === null ? null : this.now() - rangeSeconds * 1000;
    const slice = this.history.slice(
      since,
      MAX_POINTS,
      s.series.map((x) => x.unit === 'ratio'),
    );
    return {
      catalogVersion: s.catalogVersion,
      series: s.series.slice(0, slice.values.length),
      runs: [...s.runInfos.values()],
      t: slice.t,
      values: slice.values,
      verdict: this.last?.verdict ?? s.verdict,
      knees: this.last?.knees ?? [],
      emptyGroups: this.empty,
      stepSeconds: slice.stepSeconds,
      about: this.opts.about(),
    };
  }

  /** Takes an HTTP response over as an event stream; false when the viewer limit is reached. */
  addViewer(res: ServerResponse): boolean {
    if (this.viewers.size >= this.maxViewers) {
      this.dropped.inc(['limit']);
      return false;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The browser reconnects after 2 s if the stream breaks.
    res.write('retry: 2000\n\n');
    if (this.last) res.write(`data: ${JSON.stringify(this.last)}\n\n`);
    this.viewers.add(res);
    this.viewersGauge.set([], this.viewers.size);
    res.on('close', () => {
      this.viewers.delete(res);
      this.viewersGauge.set([], this.viewers.size);
    });
    return true;
  }

  private broadcast(message: string): void {
    for (const v of this.viewers) {
      if (v.writableLength > this.maxBuffered) {
        this.dropped.inc(['slow']);
        this.viewers.delete(v);
        v.destroy();
        continue;
      }
      v.write(message);
    }
    this.viewersGauge.set([], this.viewers.size);
  }
}
