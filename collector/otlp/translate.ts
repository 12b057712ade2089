/**
 * OTLP metrics into the series store, with the same cap, TTL and conflict checks as statsd
 * series. Never throws on input: a point that cannot be stored is counted by reason.
 *
 * - Sums: monotonic ones are counters, the others gauges. Cumulative points set the value,
 *   delta points add to it (delta becomes cumulative, as statsd counters do).
 * - Gauges set the value.
 * - Histograms become classic histograms with the point's bounds (cumulative: set; delta: add),
 *   or the bounds a mapping rule gives. A point on other bounds than its family's (another
 *   sender of the same name) is moved onto the family's bounds (see `rebucket`) and counted.
 * - Exponential histograms become classic histograms on fixed power-of-two bounds
 *   (2^-16 … 2^32, times the preset's unit scale): every exponential bucket fits inside one of
 *   them whatever its scale, so the conversion is exact at that resolution.
 * - Summaries keep the quantiles the sender computed.
 * - Resource attributes: `service.name` (prefixed by `service.namespace/`) is `job`,
 *   `service.instance.id` is `instance`, and the rest is one `target_info` series per resource.
 */
import type { Store, Series, MetricType, DropReason } from '../../core/store.js';
import type { Logger } from '../../core/log.js';
import { isValidMetricName } from '../../core/labels.js';
import { labelName, prometheusName, type NameKind } from './names.js';
import { OtlpMapping, unitScale, type RuleMatch } from './mapping.js';
import {
  num,
  FLAG_NO_RECORDED_VALUE,
  TEMPORALITY_DELTA,
  type AnyValue,
  type ExportMetricsServiceRequest,
  type KeyValue,
  type Metric,
  type NumberDataPoint,
  type HistogramDataPoint,
  type ExponentialHistogramDataPoint,
  type SummaryDataPoint,
} from './schema.js';

/** OTLP point types, the `type` label of `redline_otlp_data_points_total`. */
export const POINT_TYPES = ['gauge', 'sum', 'histogram', 'exponential_histogram', 'summary'] as const;
export type PointType = (typeof POINT_TYPES)[number];

/** Why a point was not stored, the `reason` label of `redline_otlp_dropped_total`. */
export const OTLP_DROP_REASONS = [
  'series_limit',
  'type_conflict',
  'name_conflict',
  'label_conflict',
  'invalid_name',
  'invalid_data_point',
  'no_data',
] as const;
export type OtlpDropReason = (typeof OTLP_DROP_REASONS)[number];

/** Exponential histograms land on these bounds: 2^-16 (15 µs, in seconds) to 2^32 (4 GiB, in bytes). */
const EXP_MIN_EXPONENT = -16;
const EXP_MAX_EXPONENT = 32;
export const EXPONENTIAL_BOUNDS: readonly number[] = Array.from(
  { length: EXP_MAX_EXPONENT - EXP_MIN_EXPONENT + 1 },
  (_, i) => 2 ** (EXP_MIN_EXPONENT + i),
);

export interface OtlpIngestOptions {
  /** Series idle this long are removed (0: never). */
  ttlMs: number;
  logger: Logger;
  mapping?: OtlpMapping;
}

export interface IngestResult {
  accepted: number;
  /** Points refused for a reason the sender should hear about (partial success). */
  rejected: number;
  firstError: string;
}

interface Family {
  name: string;
  type: MetricType;
  help: string;
  kind: NameKind;
}

/** One place a point is written to: a family (renamed or not), its labels, the unit scale. */
interface Target {
  fam: Family;
  labels: Map<string, string>;
  scale: readonly [number, number];
  /** Histogram bounds a rule asks for (in the converted unit), or null for the sender's. */
  buckets: readonly number[] | null;
}

const NO_SCALE: readonly [number, number] = [1, 1];
const PLAIN_ONLY: readonly RuleMatch[] = [{ rule: null, name: null, labels: [] }];

export class OtlpIngest {
  /** Points received, by POINT_TYPES index. */
  readonly points: number[] = POINT_TYPES.map(() => 0);
  readonly dropped = new Map<OtlpDropReason, number>(OTLP_DROP_REASONS.map((r) => [r, 0]));
  /** Points dropped on purpose by a mapping rule with `action: drop`. */
  mappingDrops = 0;
  /** Points that only mark a series as gone (no recorded value); skipped. */
  noValuePoints = 0;
  /** Histogram points moved onto their family's bounds (they came with others). */
  rebucketed = 0;
  /** Attributes that could not become labels (empty key, reserved `__` prefix). */
  attributeErrors = 0;
  private mapping: OtlpMapping;
  private readonly ttlMs: number;
  private readonly logger: Logger;
  private readonly nameCache = new Map<string, string>();
  private readonly labelCache = new Map<string, string>();

  constructor(
    private readonly store: Store,
    opts: OtlpIngestOptions,
  ) {
    this.ttlMs = opts.ttlMs;
    this.logger = opts.logger;
    this.mapping = opts.mapping ?? OtlpMapping.empty();
  }

  setMapping(mapping: OtlpMapping): void {
    this.mapping = mapping;
  }

  ingest(req: ExportMetricsServiceRequest): IngestResult {
    const result: IngestResult = { accepted: 0, rejected: 0, firstError: '' };
    for (const rm of req.resourceMetrics ?? []) {
      const resource = this.resourceLabels(rm.resource?.attributes ?? []);
      for (const sm of rm.scopeMetrics ?? []) {
        for (const metric of sm.metrics ?? []) this.metric(metric, resource, result);
      }
    }
    return result;
  }

  // ---------------------------------------------------------------- resources

  /** job and instance for every point of the resource, and its target_info series. */
  private resourceLabels(attrs: readonly KeyValue[]): Map<string, string> {
    let name = '';
    let namespace = '';
    let instance = '';
    const info = new Map<string, string>();
    for (const kv of attrs) {
      const v = anyValueString(kv.value);
      if (kv.key === 'service.name') name = v;
      else if (kv.key === 'service.namespace') namespace = v;
      else if (kv.key === 'service.instance.id') instance = v;
      else this.addLabel(info, kv.key, v);
    }
    const out = new Map<string, string>();
    const job = namespace !== '' && name !== '' ? `${namespace}/${name}` : name;
    if (job !== '') out.set('job', job);
    if (instance !== '') out.set('instance', instance);
    if (info.size > 0) {
      for (const [k, v] of out) info.set(k, v);
      const s = this.series({ name: 'target_info', type: 'gauge', help: 'Target metadata: the resource attributes of OTLP senders.', kind: 'gauge' }, info, null);
      if (typeof s !== 'string') {
        s.value = 1;
        s.updatedMs = this.store.now();
      }
    }
    return out;
  }

  private addLabel(labels: Map<string, string>, key: string, value: string): void {
    let name = this.labelCache.get(key);
    if (name === undefined) {
      name = labelName(key);
      if (this.labelCache.size >= 10_000) this.labelCache.clear();
      this.labelCache.set(key, name);
    }
    if (name === '' || name.startsWith('__')) {
      this.attributeErrors++;
      return;
    }
    const prev = labels.get(name);
    // Two keys that translate to one label keep both values, as Prometheus does.
    labels.set(name, prev === undefined ? value : `${prev};${value}`);
  }

  // ---------------------------------------------------------------- metrics

  private metric(metric: Metric, resource: Map<string, string>, result: IngestResult): void {
    const unit = metric.unit ?? '';
    const help = metric.description || `OTLP metric ${metric.name}${unit ? ` (${unit})` : ''}.`;
    if (metric.sum) {
      const sum = metric.sum;
      const monotonic = sum.isMonotonic === true;
      const delta = sum.aggregationTemporality === TEMPORALITY_DELTA;
      const fam = this.family(metric.name, unit, monotonic ? 'counter' : 'updown', help);
      for (const p of sum.dataPoints ?? []) {
        this.points[1]!++;
        this.numberPoint(metric, fam, p, resource, result, (s, v) => {
          if (monotonic && delta && v < 0) return false;
          if (delta) s.value += v;
          else s.value = v;
          return true;
        });
      }
    } else if (metric.gauge) {
      const fam = this.family(metric.name, unit, 'gauge', help);
      for (const p of metric.gauge.dataPoints ?? []) {
        this.points[0]!++;
        this.numberPoint(metric, fam, p, resource, result, (s, v) => {
          s.value = v;
          return true;
        });
      }
    } else if (metric.histogram) {
      const fam = this.family(metric.name, unit, 'histogram', help);
      const delta = metric.histogram.aggregationTemporality === TEMPORALITY_DELTA;
      for (const p of metric.histogram.dataPoints ?? []) {
        this.points[2]!++;
        this.histogramPoint(metric, fam, p, delta, resource, result);
      }
    } else if (metric.exponentialHistogram) {
      const fam = this.family(metric.name, unit, 'histogram', help);
      const delta = metric.exponentialHistogram.aggregationTemporality === TEMPORALITY_DELTA;
      for (const p of metric.exponentialHistogram.dataPoints ?? []) {
        this.points[3]!++;
        this.exponentialPoint(metric, fam, p, delta, resource, result);
      }
    } else if (metric.summary) {
      const fam = this.family(metric.name, unit, 'summary', help);
      for (const p of metric.summary.dataPoints ?? []) {
        this.points[4]!++;
        this.summaryPoint(metric, fam, p, resource, result);
      }
    } else {
      this.drop('no_data', result, `metric ${JSON.stringify(metric.name)} has no data`);
    }
  }

  private family(otlpName: string, unit: string, kind: NameKind, help: string): Family {
    const key = `${kind}\u0000${unit}\u0000${otlpName}`;
    let name = this.nameCache.get(key);
    if (name === undefined) {
      name = prometheusName(otlpName, unit, kind);
      if (this.nameCache.size >= 10_000) this.nameCache.clear();
      this.nameCache.set(key, name);
    }
    const type: MetricType = kind === 'counter' ? 'counter' : kind === 'histogram' ? 'histogram' : kind === 'summary' ? 'summary' : 'gauge';
    return { name, type, help, kind };
  }

  /**
   * Where a point goes: one target per mapping rule it reaches (usually one, the plain
   * translation when no rule matches). Empty when a rule drops it.
   */
  private prepare(metric: Metric, fam: Family, attrs: readonly KeyValue[] | null | undefined, resource: Map<string, string>): Target[] {
    const list = attrs ?? [];
    const matches =
      this.mapping.rules.length === 0
        ? PLAIN_ONLY
        : this.mapping.targets(metric.name, (k) => {
            const kv = list.find((a) => a.key === k);
            return kv === undefined ? undefined : anyValueString(kv.value);
          });
    if (matches.length === 0) this.mappingDrops++;
    const dropAttrs = this.mapping.dropAttributes;
    return matches.map((m) => {
      const labels = new Map<string, string>();
      for (const kv of list) {
        if (dropAttrs.has(kv.key)) continue;
        if (m.rule !== null && m.rule.attributes.some(([k]) => k === kv.key)) continue;
        this.addLabel(labels, kv.key, anyValueString(kv.value));
      }
      for (const [k, v] of m.labels) labels.set(k, v);
      for (const [k, v] of resource) labels.set(k, v);
      return {
        fam: m.name === null ? fam : { ...fam, name: m.name },
        labels,
        scale: m.rule === null ? NO_SCALE : unitScale(m.rule.convert, metric.unit ?? ''),
        buckets: m.rule?.buckets ?? null,
      };
    });
  }

  private series(fam: Family, labels: Map<string, string>, buckets: readonly number[] | null, quantiles?: readonly number[]): Series | DropReason | 'invalid_name' {
    if (!isValidMetricName(fam.name)) return 'invalid_name';
    const names = [...labels.keys()].sort();
    return this.store.statsdSeries({
      name: fam.name,
      help: fam.help,
      type: fam.type,
      labelNames: names,
      labelValues: names.map((n) => labels.get(n)!),
      buckets: buckets ?? undefined,
      summary: quantiles
        ? { quantiles: quantiles.map((quantile) => ({ quantile, error: 0 })), maxAgeMs: 60_000, ageBuckets: 1, bufCap: 1 }
        : undefined,
      ttlMs: this.ttlMs,
      isSet: false,
    });
  }

  private numberPoint(
    metric: Metric,
    fam: Family,
    p: NumberDataPoint,
    resource: Map<string, string>,
    result: IngestResult,
    apply: (s: Series, v: number) => boolean,
  ): void {
    if (((p.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0) {
      this.noValuePoints++;
      return;
    }
    const raw = p.asDouble ?? (p.asInt !== null && p.asInt !== undefined ? num(p.asInt) : null);
    if (raw === null) return this.drop('invalid_data_point', result, `${metric.name}: a number point without a value`);
    let stored = false;
    for (const prep of this.prepare(metric, fam, p.attributes, resource)) {
      const s = this.series(prep.fam, prep.labels, null);
      if (typeof s === 'string') return this.drop(s, result, `${prep.fam.name}: ${s}`);
      const v = (raw * prep.scale[0]) / prep.scale[1];
      if (!apply(s, v)) return this.drop('invalid_data_point', result, `${metric.name}: a negative delta on a monotonic sum`);
      s.updatedMs = this.store.now();
      stored = true;
    }
    if (stored) result.accepted++;
  }

  private histogramPoint(
    metric: Metric,
    fam: Family,
    p: HistogramDataPoint,
    delta: boolean,
    resource: Map<string, string>,
    result: IngestResult,
  ): void {
    if (((p.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0) {
      this.noValuePoints++;
      return;
    }
    const raw = p.bucketCounts ?? [];
    const rawBounds = raw.length === 0 ? [] : (p.explicitBounds ?? []);
    if (raw.length !== 0 && raw.length !== rawBounds.length + 1) {
      return this.drop('invalid_data_point', result, `${metric.name}: ${raw.length} bucket counts for ${rawBounds.length} bounds`);
    }
    for (let i = 1; i < rawBounds.length; i++) {
      if (!(rawBounds[i]! > rawBounds[i - 1]!) || !Number.isFinite(rawBounds[i]!)) {
        return this.drop('invalid_data_point', result, `${metric.name}: histogram bounds are not finite and increasing`);
      }
    }
    // Finite buckets only: the overflow bucket is what `count` has beyond them.
    const counts = new Float64Array(rawBounds.length);
    for (let i = 0; i < counts.length; i++) counts[i] = num(raw[i]);
    this.histogramTargets(metric, fam, p, rawBounds, counts, delta, resource, result);
  }

  private exponentialPoint(
    metric: Metric,
    fam: Family,
    p: ExponentialHistogramDataPoint,
    delta: boolean,
    resource: Map<string, string>,
    result: IngestResult,
  ): void {
    if (((p.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0) {
      this.noValuePoints++;
      return;
    }
    const scale = p.scale ?? 0;
    if (!Number.isInteger(scale) || scale < -10 || scale > 20) {
      return this.drop('invalid_data_point', result, `${metric.name}: exponential histogram scale ${scale} is out of range`);
    }
    const counts = new Float64Array(EXPONENTIAL_BOUNDS.length);
    // Zero and negative values are below every positive bound.
    let low = num(p.zeroCount);
    for (const c of p.negative?.bucketCounts ?? []) low += num(c);
    counts[0] = low;
    const offset = p.positive?.offset ?? 0;
    const pos = p.positive?.bucketCounts ?? [];
    for (let j = 0; j < pos.length; j++) {
      const c = num(pos[j]);
      if (c === 0) continue;
      const i = offset + j;
      // Bucket i holds (2^(i/2^scale), 2^((i+1)/2^scale)]; the smallest power of two at or above its top.
      const top = scale >= 0 ? Math.floor(i / 2 ** scale) + 1 : (i + 1) * 2 ** -scale;
      if (top > EXP_MAX_EXPONENT) continue; // only in the +Inf bucket (count)
      counts[Math.max(0, top - EXP_MIN_EXPONENT)]! += c;
    }
    this.histogramTargets(metric, fam, p, EXPONENTIAL_BOUNDS, counts, delta, resource, result);
  }

  /** Writes one histogram point (bounds in the sender's unit, per-bucket counts) to each of its targets. */
  private histogramTargets(
    metric: Metric,
    fam: Family,
    p: HistogramDataPoint | ExponentialHistogramDataPoint,
    rawBounds: readonly number[],
    counts: Float64Array,
    delta: boolean,
    resource: Map<string, string>,
    result: IngestResult,
  ): void {
    const count = num(p.count);
    let stored = false;
    for (const prep of this.prepare(metric, fam, p.attributes, resource)) {
      const [mul, div] = prep.scale;
      const bounds = mul === 1 && div === 1 ? rawBounds : rawBounds.map((b) => (b * mul) / div);
      const s = this.series(prep.fam, prep.labels, prep.buckets ?? bounds);
      if (typeof s === 'string') return this.drop(s, result, `${prep.fam.name}: ${s}`);
      const fb = s.family.bounds!;
      let into: ArrayLike<number> = counts;
      if (fb.length !== bounds.length || bounds.some((b, i) => b !== fb[i])) {
        into = rebucket(bounds, counts, fb);
        this.rebucketed++;
      }
      const b = s.buckets!;
      for (let i = 0; i < b.length; i++) b[i] = delta ? b[i]! + into[i]! : into[i]!;
      const sum = p.sum === null || p.sum === undefined ? 0 : (p.sum * mul) / div;
      s.count = delta ? s.count + count : count;
      s.sum = delta ? s.sum + sum : sum;
      s.updatedMs = this.store.now();
      stored = true;
    }
    if (stored) result.accepted++;
  }

  private summaryPoint(metric: Metric, fam: Family, p: SummaryDataPoint, resource: Map<string, string>, result: IngestResult): void {
    if (((p.flags ?? 0) & FLAG_NO_RECORDED_VALUE) !== 0) {
      this.noValuePoints++;
      return;
    }
    const qv = p.quantileValues ?? [];
    const qs = qv.map((q) => q.quantile ?? 0);
    if (qs.some((q) => !(q >= 0 && q <= 1))) return this.drop('invalid_data_point', result, `${metric.name}: a quantile outside [0, 1]`);
    let stored = false;
    for (const prep of this.prepare(metric, fam, p.attributes, resource)) {
      const [mul, div] = prep.scale;
      const s = this.series(prep.fam, prep.labels, null, qs);
      if (typeof s === 'string') return this.drop(s, result, `${prep.fam.name}: ${s}`);
      const famQs = s.family.summaryOptions?.quantiles ?? [];
      const values = (s.quantileValues ??= new Float64Array(famQs.length));
      for (let i = 0; i < famQs.length; i++) {
        const at = qs.indexOf(famQs[i]!.quantile);
        values[i] = at === -1 ? Number.NaN : ((qv[at]!.value ?? Number.NaN) * mul) / div;
      }
      s.count = num(p.count);
      s.sum = p.sum === null || p.sum === undefined ? 0 : (p.sum * mul) / div;
      s.updatedMs = this.store.now();
      stored = true;
    }
    if (stored) result.accepted++;
  }

  private refuse(reason: OtlpDropReason, result: IngestResult, message: string): false {
    this.drop(reason, result, message);
    return false;
  }

  private drop(reason: OtlpDropReason, result: IngestResult, message: string): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
    result.rejected++;
    if (result.firstError === '') result.firstError = message;
    this.logger.rateLimited(`otlp_${reason}`, 'OTLP data point dropped', { detail: message });
  }
}

/** An attribute value as a label value: strings as they are, other scalars as text, lists and maps as JSON. */
export function anyValueString(v: AnyValue | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return String(v.boolValue);
  if (v.intValue !== null && v.intValue !== undefined) return String(num(v.intValue));
  if (typeof v.doubleValue === 'number') return String(v.doubleValue);
  if (v.arrayValue) return JSON.stringify((v.arrayValue.values ?? []).map((x) => anyValueJson(x)));
  if (v.kvlistValue) return JSON.stringify(Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, anyValueJson(kv.value)])));
  if (v.bytesValue) return Buffer.from(v.bytesValue).toString('base64');
  return '';
}

function anyValueJson(v: AnyValue | null | undefined): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== null && v.intValue !== undefined) return num(v.intValue);
  if (typeof v.doubleValue === 'number') return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map((x) => anyValueJson(x));
  if (v.kvlistValue) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key, anyValueJson(kv.value)]));
  if (v.bytesValue) return Buffer.from(v.bytesValue).toString('base64');
  return null;
}

/**
 * Per-bucket counts on `target` bounds from a histogram on `bounds`: each target bound gets the
 * count at the largest source bound at or below it. Exact where the two agree, never above the
 * truth (a quantile read from it errs high, the safe side for latency).
 */
export function rebucket(bounds: ArrayLike<number>, counts: ArrayLike<number>, target: ArrayLike<number>): Float64Array {
  const out = new Float64Array(target.length);
  let src = 0;
  let cum = 0;
  let prev = 0;
  for (let t = 0; t < target.length; t++) {
    while (src < bounds.length && bounds[src]! <= target[t]!) cum += counts[src++]!;
    out[t] = cum - prev;
    prev = cum;
  }
  return out;
}
