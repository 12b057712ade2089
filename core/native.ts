/**
 * Native (sparse, exponential) histograms as Prometheus defines them and client_golang fills
 * them, which is what statsd_exporter serves: bucket `k` of schema `s` holds observations in
 * (2^((k-1)/2^s), 2^(k/2^s)], negative values mirror that, values within the zero threshold go
 * to the zero bucket. The schema comes from the bucket factor (the largest resolution whose
 * bucket width ratio does not exceed it); past the bucket limit the resolution is halved
 * (neighbouring buckets merged), as client_golang does when neither a reset duration nor a
 * wider zero bucket is configured (statsd_exporter configures neither).
 *
 * Written from the format's definition (prometheus/docs, client_model's metrics.proto) and
 * client_golang's documented behaviour; counts are floats because sampled statsd observations
 * weigh 1/rate.
 */

/** client_golang's default zero threshold, 2^-128. */
export const NATIVE_ZERO_THRESHOLD = 2 ** -128;
export const MIN_SCHEMA = -4;
export const MAX_SCHEMA = 8;

export interface NativeHistogramOptions {
  /** Growth factor between two buckets (> 1); statsd_exporter's default is 1.1 (schema 3). */
  readonly bucketFactor: number;
  /** Most buckets (positive and negative) before the resolution is halved; 0: no limit. */
  readonly maxBuckets: number;
}

/** statsd_exporter's defaults: every histogram is native as well as classic. */
export const DEFAULT_NATIVE_OPTIONS: NativeHistogramOptions = Object.freeze({ bucketFactor: 1.1, maxBuckets: 256 });

/**
 * The schema for a bucket factor: the largest `s` in [-4, 8] with 2^(2^-s) <= factor. Null when
 * the factor is 1 or less (no native histogram, as client_golang reads it).
 */
export function schemaFor(bucketFactor: number): number | null {
  if (!(bucketFactor > 1)) return null;
  const floor = Math.floor(Math.log2(Math.log2(bucketFactor)));
  if (floor <= -MAX_SCHEMA) return MAX_SCHEMA;
  if (floor >= -MIN_SCHEMA) return MIN_SCHEMA;
  return 0 - floor;
}

/** Per schema > 0: the 2^s fractions 2^(i/2^s)/2 in [0.5, 1) that split one power of two. */
const FRACTIONS: Float64Array[] = [];
for (let s = 0; s <= MAX_SCHEMA; s++) {
  const n = 2 ** s;
  FRACTIONS.push(Float64Array.from({ length: n }, (_, i) => (i === 0 ? 0.5 : 2 ** (i / n) / 2)));
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * The bucket key of a positive finite `v` above the zero threshold (so a normal float) in
 * `schema`. Splits `v` into frac × 2^exp with frac in [0.5, 1), exactly, from the float's
 * exponent bits, then finds the fraction's sub-bucket.
 */
export function bucketKey(v: number, schema: number): number {
  f64[0] = v;
  const exp = ((u32[HI]! >>> 20) & 0x7ff) - 1022;
  // Two steps: 2^exp itself overflows for the largest floats.
  const frac = v / 2 / 2 ** (exp - 1);
  if (schema > 0) {
    const fr = FRACTIONS[schema]!;
    // The smallest i with fr[i] >= frac (fr[0] = 0.5 <= frac always).
    let lo = 0;
    let hi = fr.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (fr[mid]! >= frac) hi = mid;
      else lo = mid + 1;
    }
    return lo + (exp - 1) * fr.length;
  }
  const key = frac === 0.5 ? exp - 1 : exp;
  const div = 2 ** -schema;
  return Math.floor((key + div - 1) / div);
}

export class NativeHistogram {
  schema: number;
  readonly zeroThreshold = NATIVE_ZERO_THRESHOLD;
  zeroCount = 0;
  readonly positive = new Map<number, number>();
  /** Created on the first negative observation. */
  negative: Map<number, number> | null = null;

  constructor(
    schema: number,
    readonly maxBuckets: number,
  ) {
    this.schema = schema;
  }

  observe(v: number, weight: number): void {
    const a = Math.abs(v);
    if (a <= this.zeroThreshold || !Number.isFinite(a)) {
      // ±Inf cannot be a bucket; statsd never sends it (refused as an invalid value).
      if (a <= this.zeroThreshold) this.zeroCount += weight;
      return;
    }
    const buckets = v > 0 ? this.positive : (this.negative ??= new Map());
    const key = bucketKey(a, this.schema);
    const had = buckets.get(key);
    buckets.set(key, (had ?? 0) + weight);
    if (had === undefined && this.maxBuckets > 0) this.limit();
  }

  get bucketCount(): number {
    return this.positive.size + (this.negative?.size ?? 0);
  }

  /**
   * Halves the resolution once when a new bucket took the count past the limit, as client_golang
   * does per observation: a burst of new buckets may stay over the limit until the next one.
   */
  private limit(): void {
    if (this.bucketCount > this.maxBuckets && this.schema > MIN_SCHEMA) {
      this.schema--;
      merge(this.positive);
      if (this.negative !== null) merge(this.negative);
    }
  }
}

/** Bucket k of schema s lies in bucket ceil(k/2) of schema s-1. */
function merge(buckets: Map<number, number>): void {
  const old = [...buckets];
  buckets.clear();
  for (const [k, c] of old) {
    const nk = Math.ceil(k / 2);
    buckets.set(nk, (buckets.get(nk) ?? 0) + c);
  }
}

/** Spans and counts of one side of a native histogram, in key order, for the exposition. */
export interface NativeSide {
  spans: { offset: number; length: number }[];
  counts: number[];
}

/**
 * Sorted keys as spans (runs of consecutive keys; the offset is the gap from the previous run's
 * end, the first one's from 0) and their counts. Gaps of one or two empty buckets are filled with
 * zero counts instead of a new span, as client_golang does: it is smaller on the wire.
 */
export function sides(buckets: Map<number, number> | null): NativeSide {
  const out: NativeSide = { spans: [], counts: [] };
  if (buckets === null || buckets.size === 0) return out;
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  let next = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const gap = k - next;
    const span = out.spans[out.spans.length - 1];
    if (span !== undefined && gap <= 2) {
      for (let g = 0; g < gap; g++) out.counts.push(0);
      span.length += gap + 1;
    } else {
      out.spans.push({ offset: i === 0 ? k : gap, length: 1 });
    }
    out.counts.push(buckets.get(k)!);
    next = k + 1;
  }
  return out;
}
