/**
 * The series store: the only state shared between sources (statsd, /proc, probes) and sinks
 * (/metrics, OTLP). Sources write, sinks read.
 *
 * Two kinds of family live here:
 * - *statsd families*, created on the fly from network input. Their label sets may differ from
 *   series to series (as statsd_exporter allows). They are subject to the global series cap,
 *   TTL expiry and type-conflict checks, and never throw: a refusal is returned as a reason.
 * - *own families*, declared by Redline's code (self-metrics, host collector, HTTP probe) with
 *   a fixed list of label names. Declaring one twice with another type is a programming error
 *   and throws at start-up.
 */
import { serialiseLabels, escapeHelp, isValidLabelName } from './labels.js';
import { SummaryWindow, type SummaryOptions } from './summary.js';
import { NativeHistogram, schemaFor, type NativeHistogramOptions } from './native.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Why a statsd sample could not be stored. */
export type DropReason = 'series_limit' | 'type_conflict' | 'name_conflict' | 'label_conflict';

export class Series {
  /** `{a="x",b="y"}` or `` — serialised once. */
  readonly labels: string;
  value = 0;
  /** Histogram: per-bucket (non-cumulative) counts, one per finite bound. */
  readonly buckets: Float64Array | null;
  /** The native (exponential) buckets kept alongside, when the family has them. */
  readonly native: NativeHistogram | null;
  sum = 0;
  count = 0;
  readonly summary: SummaryWindow | null;
  /** Summaries computed elsewhere (OTLP): one value per family quantile, served instead of `summary`'s. */
  quantileValues: Float64Array | null = null;
  /**
   * Sets: the distinct members seen in the current interval, as 53-bit hashes of their bytes
   * (memberHash in collector/statsd/ingest.ts: 8 bytes a member whatever its length), at most
   * `Store.setMaxMembers`; `value` holds the last interval's size.
   */
  readonly members: Set<number> | null;
  updatedMs = 0;
  readonly ttlMs: number;
  /** Set when expired or removed: holders of a reference (the mapping cache) must look it up again. */
  dead = false;
  /**
   * Lazily built UTF-8 of the fixed parts of this histogram's text lines (exporters/exposition.ts
   * `histogramParts`): `name_bucket{a="x",`, then `name_sum{a="x"} `, then `name_count{a="x"} `.
   */
  textParts: Buffer | null = null;
  /** Where `_sum` and `_count` start in `textParts`. */
  sumAt = 0;
  countAt = 0;
  /** Histograms: what the last render wrote for this series, reused while it is unchanged (exporters/exposition.ts). */
  rendered: RenderedSeries | null = null;
  /** Lazily built protobuf `label` fields of this series (exporters/protobuf-writer.ts). */
  protoLabels: Buffer | null = null;
  /**
   * A negative value was observed: `_sum` is no longer a counter, and OpenMetrics then forbids
   * serving it (the text format still shows it).
   */
  negative = false;

  constructor(
    readonly family: Family,
    labels: string,
    ttlMs: number,
    nowMs: number,
    isSet: boolean,
  ) {
    this.labels = labels;
    this.ttlMs = ttlMs;
    this.updatedMs = nowMs;
    this.buckets = family.bounds ? new Float64Array(family.bounds.length) : null;
    this.native = family.nativeSchema !== null ? new NativeHistogram(family.nativeSchema, family.nativeMaxBuckets) : null;
    this.summary = family.summaryOptions ? new SummaryWindow(family.summaryOptions, nowMs) : null;
    this.members = isSet ? new Set<number>() : null;
  }

  /** Records one observation with a weight (sampled statsd timers count 1/rate times). */
  observe(v: number, weight: number, nowMs: number): void {
    if (v < 0) this.negative = true;
    const bounds = this.family.bounds;
    if (bounds !== null) {
      const b = this.buckets!;
      // Bucket lists are short (≈15): a linear scan beats a binary search here.
      for (let i = 0; i < bounds.length; i++) {
        if (v <= bounds[i]!) {
          b[i]! += weight;
          break;
        }
      }
      if (this.native !== null) this.native.observe(v, weight);
    } else if (this.summary !== null) {
      this.summary.observe(v, nowMs);
    }
    this.sum += v * weight;
    this.count += weight;
    this.updatedMs = nowMs;
  }
}

/**
 * The bytes a render wrote for one histogram series and the state they show. The next render
 * compares the series with `state` and copies `bytes[start, end)` when nothing moved, instead of
 * formatting every line again: most of 100k series are idle between two scrapes a second apart.
 * The bytes are a range of the last body's chunks (never written again), so the cache costs
 * one body's memory at most, and a series compared unchanged cannot be served stale.
 */
export class RenderedSeries {
  /** The format `bytes` are in; '' when they are not valid. */
  format = '';
  /** Per-bucket counts, then sum, then count, when written. */
  readonly state: Float64Array;
  negative = false;
  bytes: Buffer | null = null;
  start = 0;
  end = 0;

  constructor(buckets: number) {
    this.state = new Float64Array(buckets + 2);
  }
}

export interface FamilyOptions {
  name: string;
  help: string;
  type: MetricType;
  /** Histogram bucket upper bounds (finite, ascending). */
  buckets?: readonly number[];
  summary?: SummaryOptions;
  /** Histograms: also keep native buckets (served in the protobuf exposition). */
  native?: NativeHistogramOptions | undefined;
}

export class Family {
  readonly name: string;
  help: string;
  readonly type: MetricType;
  readonly bounds: Float64Array | null;
  readonly summaryOptions: SummaryOptions | null;
  /** Native histogram schema of new series; null: classic buckets only. */
  readonly nativeSchema: number | null;
  readonly nativeMaxBuckets: number;
  readonly series = new Map<string, Series>();
  /** True for families declared by Redline's own code. */
  readonly own: boolean;
  /** Statsd families fed by sets (served as gauges). */
  isSet = false;
  /** Pre-serialised `# HELP`/`# TYPE` for the text format. */
  headerText: string;
  /** Lazily built UTF-8 `le="…"} ` suffixes of the bucket lines, one per bound plus +Inf, per format. */
  leText: Buffer[] | null = null;
  leOpenMetrics: Buffer[] | null = null;
  /** The store's mapping epoch when a sample last confirmed this family's type (see Store.newMappingEpoch). */
  epoch = 0;

  constructor(opts: FamilyOptions, own: boolean) {
    this.name = opts.name;
    this.help = opts.help;
    this.type = opts.type;
    this.bounds =
      opts.type === 'histogram' ? Float64Array.from([...(opts.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b)) : null;
    this.summaryOptions = opts.type === 'summary' ? (opts.summary ?? null) : null;
    this.nativeSchema = opts.type === 'histogram' && opts.native !== undefined ? schemaFor(opts.native.bucketFactor) : null;
    this.nativeMaxBuckets = opts.native?.maxBuckets ?? 0;
    this.own = own;
    this.headerText = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }
}

/**
 * Default histogram buckets for statsd observers, in seconds: request latencies from 1 ms to
 * 60 s, roughly ×2–2.5 per step so percentiles stay within one bucket's error.
 */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Sample names a histogram or summary family serves besides its own name. */
const PART_SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: [],
  gauge: [],
  histogram: ['_bucket', '_count', '_sum'],
  // As statsd_exporter: a summary does not serve `_bucket`, so `x_bucket` may coexist with it.
  summary: ['_count', '_sum'],
};

/**
 * The name of a family in OpenMetrics, where a counter named `x_total` is the family `x`.
 * Two families with the same OpenMetrics name clash there even when their text names differ
 * (`x` and `x_total`).
 */
export function openMetricsFamilyName(name: string, type: MetricType): string {
  return type === 'counter' && name.endsWith('_total') ? name.slice(0, -'_total'.length) : name;
}

/** Label names a family type serves itself and a series may therefore not bring. */
const OWN_LABEL: Record<MetricType, string | null> = { counter: null, gauge: null, histogram: 'le', summary: 'quantile' };

export interface StoreOptions {
  /** Global cap on statsd series; new series above it are dropped and counted. */
  maxSeries: number;
  /** Interval over which statsd sets count distinct members. */
  setIntervalMs: number;
  /** Statsd/OTLP label values are cut to this many UTF-8 bytes; 0 or absent: no limit. */
  maxLabelValueBytes?: number;
  /** Distinct members one statsd set counts per interval; more are dropped and counted (default 100,000). */
  setMaxMembers?: number;
  now?: () => number;
}

export interface StatsdSeriesRequest {
  name: string;
  help: string;
  type: MetricType;
  /** Label names sorted ascending, and their values. */
  labelNames: readonly string[];
  labelValues: readonly string[];
  buckets?: readonly number[] | undefined;
  summary?: SummaryOptions | undefined;
  /** Histograms: native bucket options (statsd_exporter keeps native buckets alongside by default). */
  native?: NativeHistogramOptions | undefined;
  ttlMs: number;
  isSet: boolean;
}

type Collect = () => void;
type Refresh = () => Promise<void>;

/**
 * A family of Redline's own, declared once as a constant next to the code that owns it and
 * registered with `Store.register`. `labelNames` is a tuple, so `OwnMetric.set` callers and the
 * declaration cannot disagree on how many label values there are.
 */
export interface OwnFamilyDef<L extends readonly string[] = readonly string[]> {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labelNames: L;
  /** Histograms only: bucket upper bounds. */
  readonly buckets?: readonly number[];
}

/** Declares an own family with its label names kept as a literal tuple type. */
export function ownFamily<const L extends readonly string[]>(def: OwnFamilyDef<L>): OwnFamilyDef<L> {
  return Object.freeze(def);
}

export class Store {
  readonly families = new Map<string, Family>();
  /** Number of live statsd series. */
  statsdSeriesCount = 0;
  /** Moves whenever a statsd series goes away, so cached refusals (series cap, conflicts) are re-tried. */
  generation = 0;
  /** Live statsd series per type, for `redline_statsd_series{type}`. */
  readonly statsdSeriesByType: Record<string, number> = { counter: 0, gauge: 0, histogram: 0, summary: 0, set: 0 };
  maxSeries: number;
  readonly setIntervalMs: number;
  readonly now: () => number;
  private readonly collectors: Collect[] = [];
  private readonly refreshers: Refresh[] = [];
  private readonly ttlFamilies = new Set<Family>();
  private readonly sets = new Set<Series>();
  /** Names a statsd family may not take, because an own family or a histogram part uses them. */
  private readonly reserved = new Map<string, string>();
  /** OpenMetrics family names in use, with the family that holds each. */
  private readonly omNames = new Map<string, string>();
  /** Moves on every mapping reload: families of an older epoch yield to a new type. */
  private epoch = 0;
  /**
   * Labels renamed because the family type serves that label itself (`le` on a histogram,
   * `quantile` on a summary), by the label's name; counted once per series created.
   */
  readonly renamedLabels = new Map<string, number>([
    ['le', 0],
    ['quantile', 0],
  ]);
  /** Cap on one label value's UTF-8 bytes (0: none); longer values are cut, see `truncateLabelValues`. */
  readonly maxLabelValueBytes: number;
  /** Label values cut to `maxLabelValueBytes`, counted once per series created with one. */
  labelValuesTruncated = 0;

  /** Distinct members one set counts per interval (the rest are dropped and counted by the ingest). */
  readonly setMaxMembers: number;

  constructor(opts: StoreOptions) {
    this.maxSeries = opts.maxSeries;
    this.setMaxMembers = opts.setMaxMembers ?? 100_000;
    this.maxLabelValueBytes = opts.maxLabelValueBytes ?? 0;
    this.setIntervalMs = opts.setIntervalMs;
    this.now = opts.now ?? Date.now;
  }

  // ---------------------------------------------------------------- own families

  counter(name: string, help: string, labelNames: readonly string[] = []): OwnMetric {
    return this.own({ name, help, type: 'counter' }, labelNames);
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): OwnMetric {
    return this.own({ name, help, type: 'gauge' }, labelNames);
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): OwnMetric {
    return this.own({ name, help, type: 'histogram', buckets }, labelNames);
  }

  /** Registers a declared own family (see `ownFamily`). */
  register<L extends readonly string[]>(def: OwnFamilyDef<L>): OwnMetric<L> {
    return this.own(
      { name: def.name, help: def.help, type: def.type, ...(def.buckets ? { buckets: def.buckets } : {}) },
      def.labelNames,
    ) as OwnMetric<L>;
  }

  private own(opts: FamilyOptions, labelNames: readonly string[]): OwnMetric {
    const existing = this.families.get(opts.name);
    if (existing) {
      if (!existing.own || existing.type !== opts.type) {
        throw new Error(`metric ${opts.name} is already registered as a ${existing.type}`);
      }
      return new OwnMetric(this, existing, labelNames);
    }
    const clash = this.clash(opts.name, opts.type);
    if (clash !== null) {
      throw new Error(`metric ${opts.name} (${opts.type}) clashes with ${this.clashOwner(opts.name, opts.type)} in the exposition`);
    }
    const fam = new Family(opts, true);
    this.families.set(opts.name, fam);
    this.reserve(fam);
    return new OwnMetric(this, fam, labelNames);
  }

  /** Runs `fn` before every read of the store (a scrape), for values that are cheap to sample then. */
  onCollect(fn: Collect): void {
    this.collectors.push(fn);
  }

  /**
   * Runs `fn` before every read by a sink that can wait (the /metrics handler, the OTLP push),
   * for values only an asynchronous API gives (prom-client's default metrics).
   */
  onRefresh(fn: Refresh): void {
    this.refreshers.push(fn);
  }

  /** Called by asynchronous sinks before `collect()`. Failures are isolated and leave values stale. */
  async refresh(): Promise<void> {
    await Promise.all(this.refreshers.map((fn) => fn().catch(() => undefined)));
  }

  /** Called by sinks before they read. Collector failures are isolated from each other. */
  collect(): void {
    for (const fn of this.collectors) {
      try {
        fn();
      } catch {
        // A failing collector must not take the scrape down with it; its values stay stale.
      }
    }
  }

  // ---------------------------------------------------------------- statsd families

  /**
   * Finds or creates the series for a mapped statsd sample. Returns a reason instead of a
   * series when the sample must be dropped; never throws.
   */
  statsdSeries(req: StatsdSeriesRequest): Series | DropReason {
    let fam = this.families.get(req.name);
    if (fam !== undefined && !fam.own && (fam.type !== req.type || fam.isSet !== req.isSet) && fam.epoch < this.epoch) {
      // Created under a mapping that a reload replaced: the new mapping's type wins.
      for (const [key, s] of [...fam.series]) this.removeSeries(fam, key, s);
      fam = this.families.get(req.name);
    }
    if (fam === undefined) {
      let clash = this.clash(req.name, req.type);
      if (clash === 'type_conflict') {
        // The family in the way was created under a mapping a reload replaced: it yields too.
        const owner = this.families.get(this.clashOwner(req.name, req.type) ?? '');
        if (owner !== undefined && !owner.own && owner.epoch < this.epoch) {
          for (const [key, s] of [...owner.series]) this.removeSeries(owner, key, s);
          clash = this.clash(req.name, req.type);
        }
      }
      if (clash !== null) return clash;
      fam = new Family(
        {
          name: req.name,
          help: req.help,
          type: req.type,
          ...(req.buckets ? { buckets: req.buckets } : {}),
          ...(req.summary ? { summary: req.summary } : {}),
          ...(req.native ? { native: req.native } : {}),
        },
        false,
      );
      fam.isSet = req.isSet;
    } else if (fam.own) {
      return 'name_conflict';
    } else if (fam.type !== req.type || fam.isSet !== req.isSet) {
      // A statsd set and a gauge are both served as gauges, but one name cannot be both.
      return 'type_conflict';
    }
    fam.epoch = this.epoch;
    let names = req.labelNames;
    let values = req.labelValues;
    let truncated = 0;
    if (this.maxLabelValueBytes > 0) [values, truncated] = truncateLabelValues(values, this.maxLabelValueBytes);
    const ownLabel = OWN_LABEL[req.type];
    if (ownLabel !== null && names.includes(ownLabel)) [names, values] = this.renameOwnLabel(names, values, ownLabel);
    const key = serialiseLabels(names, values);
    const existing = fam.series.get(key);
    if (existing !== undefined) return existing;
    if (this.statsdSeriesCount >= this.maxSeries) return 'series_limit';
    for (let i = 0; i < names.length; i++) {
      // Names arrive sorted: a repeat sits next to itself.
      if (!isValidLabelName(names[i]!) || names[i] === names[i - 1]) return 'label_conflict';
    }
    this.labelValuesTruncated += truncated;
    if (ownLabel !== null && names !== req.labelNames) this.renamedLabels.set(ownLabel, this.renamedLabels.get(ownLabel)! + 1);
    if (!this.families.has(fam.name)) {
      this.families.set(fam.name, fam);
      this.reserve(fam);
    }
    const s = new Series(fam, key, req.ttlMs, this.now(), req.isSet);
    fam.series.set(key, s);
    this.statsdSeriesCount++;
    this.statsdSeriesByType[req.isSet ? 'set' : fam.type]!++;
    if (req.ttlMs > 0) this.ttlFamilies.add(fam);
    if (req.isSet) this.sets.add(s);
    return s;
  }

  /**
   * `le` on a histogram sample (or `quantile` on a summary's) would repeat the label the family
   * serves itself, and one repeated label name makes Prometheus refuse the whole scrape (client_golang,
   * under statsd_exporter, panics). The label becomes `exported_le`, as Prometheus renames a
   * target's labels that clash with its own; `exported_` is added again while the name is taken.
   */
  private renameOwnLabel(names: readonly string[], values: readonly string[], own: string): [string[], string[]] {
    let renamed = `exported_${own}`;
    while (names.includes(renamed)) renamed = `exported_${renamed}`;
    const pairs = names.map((n, i) => [n === own ? renamed : n, values[i]!] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
  }

  /**
   * Starts a new mapping epoch (a configuration reload): a statsd family created before it whose
   * next sample asks for another type is replaced rather than refused, so a reload that turns a
   * summary into a histogram takes effect without a restart.
   */
  newMappingEpoch(): void {
    this.epoch++;
  }

  /** Removes statsd series idle for longer than their TTL. Returns how many went. */
  expire(nowMs: number = this.now()): number {
    let removed = 0;
    for (const fam of this.ttlFamilies) {
      for (const [key, s] of fam.series) {
        if (s.ttlMs > 0 && nowMs - s.updatedMs > s.ttlMs) {
          this.removeSeries(fam, key, s);
          removed++;
        }
      }
      if (fam.series.size === 0) this.ttlFamilies.delete(fam);
    }
    return removed;
  }

  /**
   * Removes a statsd series now, before its TTL (a probe's series that learnt its `group`: the
   * ungrouped one would otherwise linger as a second process for a minute).
   */
  retireStatsdSeries(s: Series): void {
    const fam = s.family;
    if (s.dead || fam.own || fam.series.get(s.labels) !== s) return;
    this.removeSeries(fam, s.labels, s);
  }

  /** Closes the current set interval: each set's value becomes its distinct count. */
  rotateSets(): void {
    for (const s of this.sets) {
      s.value = s.members!.size;
      s.members!.clear();
    }
  }

  private removeSeries(fam: Family, key: string, s: Series): void {
    fam.series.delete(key);
    s.dead = true;
    this.generation++;
    this.statsdSeriesCount--;
    this.statsdSeriesByType[s.members ? 'set' : fam.type]!--;
    if (s.members) this.sets.delete(s);
    if (fam.series.size === 0 && !fam.own) {
      this.families.delete(fam.name);
      this.unreserve(fam);
    }
  }

  /**
   * Would a new family `name` of `type` collide with an existing one's exposed names, in either
   * format? Its name may not be another family's part (`x_count` of a histogram `x`), its parts
   * may not be taken, and its OpenMetrics family name (`x` for a counter `x_total`) must be free.
   */
  private clash(name: string, type: MetricType): DropReason | null {
    const owner = this.clashOwner(name, type);
    if (owner === null) return null;
    return this.families.get(owner)?.own ? 'name_conflict' : 'type_conflict';
  }

  private clashOwner(name: string, type: MetricType): string | null {
    const part = this.reserved.get(name);
    if (part !== undefined) return part;
    for (const suf of PART_SUFFIXES[type]) {
      if (this.families.has(name + suf)) return name + suf;
      const other = this.reserved.get(name + suf);
      if (other !== undefined) return other;
    }
    const om = this.omNames.get(openMetricsFamilyName(name, type));
    if (om !== undefined && om !== name) return om;
    return null;
  }

  private reserve(fam: Family): void {
    for (const suf of PART_SUFFIXES[fam.type]) this.reserved.set(fam.name + suf, fam.name);
    this.omNames.set(openMetricsFamilyName(fam.name, fam.type), fam.name);
  }

  private unreserve(fam: Family): void {
    for (const suf of PART_SUFFIXES[fam.type]) this.reserved.delete(fam.name + suf);
    this.omNames.delete(openMetricsFamilyName(fam.name, fam.type));
  }

  /** Drops every statsd series (used by tests and by `--statsd.reset-on-reload`). */
  clearStatsd(): void {
    for (const fam of [...this.families.values()]) {
      if (fam.own) continue;
      for (const [key, s] of [...fam.series]) this.removeSeries(fam, key, s);
    }
  }
}

/**
 * Cuts label values longer than `maxBytes` UTF-8 bytes at the last whole character that fits.
 * A 60 KB tag value on every series of a histogram multiplies into hundreds of MB of exposition
 * (each bucket line repeats it); the cut keeps the series and bounds its size. Returns the values
 * unchanged (the same array) when none is too long, and how many were cut.
 */
export function truncateLabelValues(values: readonly string[], maxBytes: number): [readonly string[], number] {
  let out: string[] | null = null;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // A UTF-16 unit is at most 3 UTF-8 bytes: short strings need no byte count.
    if (v.length * 3 <= maxBytes || Buffer.byteLength(v, 'utf8') <= maxBytes) continue;
    out ??= [...values];
    out[i] = cutUtf8(v, maxBytes);
    n++;
  }
  return [out ?? values, n];
}

function cutUtf8(v: string, maxBytes: number): string {
  const buf = Buffer.from(v, 'utf8');
  let end = maxBytes;
  // Back off continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}

/** Label values in the order of the family's label names (a tuple of the same length when declared with `ownFamily`). */
export type LabelValues<L extends readonly string[]> = { readonly [K in keyof L]: string };

/** A handle on an own family with a fixed list of label names. */
export class OwnMetric<L extends readonly string[] = readonly string[]> {
  constructor(
    private readonly store: Store,
    readonly family: Family,
    readonly labelNames: L,
  ) {}

  /** The series for these label values (in `labelNames` order), created on first use. */
  series(values: LabelValues<L> = [] as unknown as LabelValues<L>): Series {
    const key = serialiseLabels(this.labelNames, values);
    let s = this.family.series.get(key);
    if (s === undefined) {
      s = new Series(this.family, key, 0, this.store.now(), false);
      this.family.series.set(key, s);
    }
    return s;
  }

  set(values: LabelValues<L>, v: number): void {
    const s = this.series(values);
    s.value = v;
  }

  inc(values: LabelValues<L> = [] as unknown as LabelValues<L>, by = 1): void {
    this.series(values).value += by;
  }

  observe(values: LabelValues<L>, v: number): void {
    this.series(values).observe(v, 1, this.store.now());
  }

  remove(values: LabelValues<L>): void {
    this.family.series.delete(serialiseLabels(this.labelNames, values));
  }

  /** Removes every series, e.g. before re-publishing a fresh snapshot of process groups. */
  reset(): void {
    this.family.series.clear();
  }
}
