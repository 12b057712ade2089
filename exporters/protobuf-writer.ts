/**
 * A writer specialised for the few io.prometheus.client messages a render emits (counter, gauge,
 * summary, histogram with native buckets), used instead of protobufjs on the /metrics path
 * because it was measured faster: protobufjs builds a linked list of write operations per field
 * (13 sub-messages per 12-bucket histogram) and cannot reuse a series' pre-encoded labels.
 * Each series' labels are encoded once and kept. Field numbers and wire types are those of the
 * published metrics.proto (`METRICS_PROTO` in ./protobuf.ts); protobufjs decoding that schema
 * and a real Prometheus are the tests (exporters/exposition.test.ts, test/native-histograms.e2e).
 */
import type { Family, Series } from '../core/store.js';
import { sides } from '../core/native.js';
import { labelPairs } from './protobuf.js';

/** Field keys: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited). */
const K = {
  familyName: 0x0a,
  familyHelp: 0x12,
  familyType: 0x18,
  familyMetric: 0x22,
  metricLabel: 0x0a,
  metricGauge: 0x12,
  metricCounter: 0x1a,
  metricSummary: 0x22,
  metricHistogram: 0x3a,
  labelName: 0x0a,
  labelValue: 0x12,
  valueDouble: 0x09, // Gauge.value, Counter.value, Quantile.quantile
  count: 0x08, // Summary/Histogram.sample_count, Bucket.cumulative_count, BucketSpan.offset
  sum: 0x11, // Summary/Histogram.sample_sum, Quantile.value, Bucket.upper_bound
  summaryQuantile: 0x1a,
  histBucket: 0x1a,
  histSchema: 0x28,
  histZeroThreshold: 0x31,
  histZeroCount: 0x38,
  histNegativeSpan: 0x4a,
  histNegativeDelta: 0x50,
  histPositiveSpan: 0x62,
  histPositiveDelta: 0x68,
  spanLength: 0x10,
} as const;

const TYPE = { counter: 0, gauge: 1, summary: 2, histogram: 4 } as const;

function varintLen(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** A growable byte buffer with the protobuf primitives. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Unsigned varint of a non-negative integer up to 2^53. */
  varint(v: number): void {
    this.room(10);
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** Zigzag (sint32/sint64) of an integer. */
  zigzag(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  double(v: number): void {
    this.room(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    if (b.length < 96) {
      // A JS loop beats a native call for the short label blocks of most series.
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < b.length; i++) buf[p++] = b[i]!;
      this.pos = p;
    } else {
      this.buf.set(b, this.pos);
      this.pos += b.length;
    }
  }

  /** Appends `src[from, to)` (a series' message kept from the last render). */
  range(src: Buffer, from: number, to: number): void {
    this.room(to - from);
    this.pos += src.copy(this.buf, this.pos, from, to);
  }

  /** A length-delimited string field. */
  string(key: number, s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(key);
    this.varint(n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** The bytes written since `from`, moved `n` bytes further on (to make room for a length). */
  shift(from: number, n: number): void {
    this.room(n);
    this.buf.copy(this.buf, from + n, from, this.pos);
    this.pos += n;
  }

  /**
   * Ends a length-delimited field whose content started at `start` (the key was written before
   * it): inserts the content's varint length in front of it.
   */
  close(start: number): void {
    const len = this.pos - start;
    const n = varintLen(len);
    this.shift(start, n);
    let p = start;
    let v = len;
    while (v >= 128) {
      this.buf[p++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[p] = v;
  }

  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

/** A series' `label` fields (repeated LabelPair in Metric), encoded once and kept on the series. */
function labelsOf(s: Series): Buffer {
  let b = s.protoLabels;
  if (b !== null) return b;
  const w = new ProtoWriter(256);
  for (const p of labelPairs(s)) {
    w.varint(K.metricLabel);
    const start = w.pos;
    w.string(K.labelName, p.name);
    w.string(K.labelValue, p.value);
    w.close(start);
  }
  b = w.take();
  s.protoLabels = b;
  return b;
}

/** A family's header: name, help, type (a MetricFamily without metrics). */
export function writeHeader(w: ProtoWriter, fam: Family): void {
  w.string(K.familyName, fam.name);
  w.string(K.familyHelp, fam.help);
  w.varint(K.familyType);
  w.varint(TYPE[fam.type]);
}

/** One series as a `metric` field of MetricFamily; lengths are computed first, so nothing moves. */
export function writeSeries(w: ProtoWriter, fam: Family, s: Series, now: number): void {
  const labels = labelsOf(s);
  switch (fam.type) {
    case 'counter':
    case 'gauge': {
      w.varint(K.familyMetric);
      w.varint(labels.length + 11);
      w.bytes(labels);
      w.varint(fam.type === 'counter' ? K.metricCounter : K.metricGauge);
      w.varint(9);
      w.varint(K.valueDouble);
      w.double(s.value);
      return;
    }
    case 'summary': {
      const qs = fam.summaryOptions!.quantiles;
      const values = s.quantileValues ?? s.summary!.quantiles(now);
      const count = Math.max(0, Math.round(s.count));
      const body = 1 + varintLen(count) + 9 + qs.length * 20;
      w.varint(K.familyMetric);
      w.varint(labels.length + 1 + varintLen(body) + body);
      w.bytes(labels);
      w.varint(K.metricSummary);
      w.varint(body);
      w.varint(K.count);
      w.varint(count);
      w.varint(K.sum);
      w.double(s.sum);
      for (let i = 0; i < qs.length; i++) {
        w.varint(K.summaryQuantile);
        w.varint(18);
        w.varint(K.valueDouble);
        w.double(qs[i]!.quantile);
        w.varint(K.sum);
        w.double(values[i]!);
      }
      return;
    }
    case 'histogram':
      writeHistogram(w, fam, s, labels);
      return;
  }
}

const zz = (v: number): number => (v >= 0 ? v * 2 : -v * 2 - 1);

function spansLen(list: readonly { offset: number; length: number }[]): number {
  let n = 0;
  for (const sp of list) n += 1 + 1 + (1 + varintLen(zz(sp.offset)) + 1 + varintLen(sp.length));
  return n;
}

function deltasLen(counts: readonly number[]): number {
  let n = 0;
  let prev = 0;
  for (const c of counts) {
    const r = Math.round(c);
    n += 1 + varintLen(zz(r - prev));
    prev = r;
  }
  return n;
}

function writeHistogram(w: ProtoWriter, fam: Family, s: Series, labels: Buffer): void {
  const bounds = fam.bounds!;
  const b = s.buckets!;
  const count = Math.max(0, Math.round(s.count));
  let body = 1 + varintLen(count) + 9;
  let cum = 0;
  for (let i = 0; i < b.length; i++) {
    cum += b[i]!;
    body += 2 + 2 + varintLen(Math.max(0, Math.round(cum))) + 8;
  }
  const n = s.native;
  let neg: ReturnType<typeof sides> | null = null;
  let pos: ReturnType<typeof sides> | null = null;
  let posSpans: readonly { offset: number; length: number }[] = [];
  if (n !== null) {
    neg = sides(n.negative);
    pos = sides(n.positive);
    // A native histogram without observations still says it is one: an empty span.
    posSpans = pos.spans.length === 0 && neg.spans.length === 0 && n.zeroCount === 0 ? [{ offset: 0, length: 0 }] : pos.spans;
    body += 1 + varintLen(zz(n.schema)) + 9 + 1 + varintLen(Math.round(n.zeroCount));
    body += spansLen(neg.spans) + deltasLen(neg.counts) + spansLen(posSpans) + deltasLen(pos.counts);
  }
  w.varint(K.familyMetric);
  w.varint(labels.length + 1 + varintLen(body) + body);
  w.bytes(labels);
  w.varint(K.metricHistogram);
  w.varint(body);
  w.varint(K.count);
  w.varint(count);
  w.varint(K.sum);
  w.double(s.sum);
  cum = 0;
  for (let i = 0; i < b.length; i++) {
    cum += b[i]!;
    const c = Math.max(0, Math.round(cum));
    w.varint(K.histBucket);
    w.varint(2 + varintLen(c) + 8);
    w.varint(K.count);
    w.varint(c);
    w.varint(K.sum);
    w.double(bounds[i]!);
  }
  if (n !== null) {
    w.varint(K.histSchema);
    w.zigzag(n.schema);
    w.varint(K.histZeroThreshold);
    w.double(n.zeroThreshold);
    w.varint(K.histZeroCount);
    w.varint(Math.round(n.zeroCount));
    spans(w, K.histNegativeSpan, neg!.spans);
    deltas(w, K.histNegativeDelta, neg!.counts);
    spans(w, K.histPositiveSpan, posSpans);
    deltas(w, K.histPositiveDelta, pos!.counts);
  }
}

function spans(w: ProtoWriter, key: number, list: readonly { offset: number; length: number }[]): void {
  for (const sp of list) {
    w.varint(key);
    w.varint(1 + varintLen(zz(sp.offset)) + 1 + varintLen(sp.length));
    w.varint(K.count);
    w.zigzag(sp.offset);
    w.varint(K.spanLength);
    w.varint(sp.length);
  }
}

function deltas(w: ProtoWriter, key: number, counts: readonly number[]): void {
  let prev = 0;
  for (const c of counts) {
    const r = Math.round(c);
    w.varint(key);
    w.zigzag(r - prev);
    prev = r;
  }
}
