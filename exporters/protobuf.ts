/**
 * The Prometheus protobuf exposition (`application/vnd.google.protobuf;
 * proto=io.prometheus.client.MetricFamily; encoding=delimited`): each family is one
 * `io.prometheus.client.MetricFamily` message prefixed by its varint length. It is the only
 * format that carries native histograms, and the one Prometheus asks for first when native
 * histograms are enabled.
 *
 * Encoding is protobufjs (already a dependency, for the OTLP receiver) driven by the published
 * `io.prometheus.client` schema below: a maintained, fuzzed encoder beats hand-written varints.
 * A family with 100k series is not built as one 100k-element object: its header and each series
 * are encoded as separate `MetricFamily` messages and concatenated, which protobuf defines as
 * their merge (repeated `metric` fields append), so the result is one message and the render can
 * pause between series like the text renderer.
 */
import protobuf from 'protobufjs';
import type { Family, Series } from '../core/store.js';
import { sides } from '../core/native.js';

/**
 * io.prometheus.client's metrics.proto (prometheus/client_model), fields and numbers as
 * published; comments dropped.
 */
export const METRICS_PROTO = `
syntax = "proto2";
package io.prometheus.client;
import "google/protobuf/timestamp.proto";

message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Counter {
  optional double value = 1;
  optional Exemplar exemplar = 2;
  optional google.protobuf.Timestamp created_timestamp = 3;
}
message Quantile { optional double quantile = 1; optional double value = 2; }
message Summary {
  optional uint64 sample_count = 1;
  optional double sample_sum = 2;
  repeated Quantile quantile = 3;
  optional google.protobuf.Timestamp created_timestamp = 4;
}
message Untyped { optional double value = 1; }
message Histogram {
  optional uint64 sample_count = 1;
  optional double sample_count_float = 4;
  optional double sample_sum = 2;
  repeated Bucket bucket = 3;
  optional google.protobuf.Timestamp created_timestamp = 15;
  optional sint32 schema = 5;
  optional double zero_threshold = 6;
  optional uint64 zero_count = 7;
  optional double zero_count_float = 8;
  repeated BucketSpan negative_span = 9;
  repeated sint64 negative_delta = 10;
  repeated double negative_count = 11;
  repeated BucketSpan positive_span = 12;
  repeated sint64 positive_delta = 13;
  repeated double positive_count = 14;
  repeated Exemplar exemplars = 16;
}
message Bucket {
  optional uint64 cumulative_count = 1;
  optional double cumulative_count_float = 4;
  optional double upper_bound = 2;
  optional Exemplar exemplar = 3;
}
message BucketSpan { optional sint32 offset = 1; optional uint32 length = 2; }
message Exemplar {
  repeated LabelPair label = 1;
  optional double value = 2;
  optional google.protobuf.Timestamp timestamp = 3;
}
message Metric {
  repeated LabelPair label = 1;
  optional Gauge gauge = 2;
  optional Counter counter = 3;
  optional Summary summary = 4;
  optional Untyped untyped = 5;
  optional Histogram histogram = 7;
  optional int64 timestamp_ms = 6;
}
message MetricFamily {
  optional string name = 1;
  optional string help = 2;
  optional MetricType type = 3;
  repeated Metric metric = 4;
  optional string unit = 5;
}
`;

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

let familyType: protobuf.Type | null = null;

/** The MetricFamily type, parsed once on first use (agents never scraped in protobuf never pay). */
export function metricFamilyType(): protobuf.Type {
  if (familyType === null) {
    const root = new protobuf.Root();
    root.addJSON(protobuf.common.get('google/protobuf/timestamp.proto')!.nested!);
    protobuf.parse(METRICS_PROTO, root, { keepCase: true });
    root.resolveAll();
    familyType = root.lookupType('io.prometheus.client.MetricFamily');
  }
  return familyType;
}

const TYPE = { counter: 0, gauge: 1, summary: 2, histogram: 4 } as const;

interface LabelPair {
  name: string;
  value: string;
}

/** Label pairs of a series, read back from its serialised `{a="x",b="y"}` once and kept. */
const pairsOf = new WeakMap<Series, LabelPair[]>();

export function labelPairs(s: Series): LabelPair[] {
  let out = pairsOf.get(s);
  if (out !== undefined) return out;
  out = [];
  const t = s.labels;
  let i = 1;
  while (i < t.length - 1) {
    const eq = t.indexOf('="', i);
    const name = t.slice(i, eq);
    let j = eq + 2;
    let value = '';
    for (; t[j] !== '"'; j++) {
      if (t[j] === '\\') {
        j++;
        value += t[j] === 'n' ? '\n' : t[j];
      } else {
        value += t[j];
      }
    }
    out.push({ name, value });
    i = j + 2; // past `",`
  }
  pairsOf.set(s, out);
  return out;
}

/** The header of a family (name, help, type) as a MetricFamily message without metrics. */
export function encodeHeader(fam: Family): Uint8Array {
  return metricFamilyType().encode({ name: fam.name, help: fam.help, type: TYPE[fam.type] }).finish();
}

/** One series as a MetricFamily message holding only that metric (see the file comment). */
export function encodeSeries(fam: Family, s: Series, now: number): Uint8Array {
  const label = labelPairs(s);
  let metric: Record<string, unknown>;
  switch (fam.type) {
    case 'counter':
      metric = { label, counter: { value: s.value } };
      break;
    case 'gauge':
      metric = { label, gauge: { value: s.value } };
      break;
    case 'summary': {
      const qs = fam.summaryOptions!.quantiles;
      const values = s.quantileValues ?? s.summary!.quantiles(now);
      metric = {
        label,
        summary: { sample_count: s.count, sample_sum: s.sum, quantile: qs.map((q, i) => ({ quantile: q.quantile, value: values[i]! })) },
      };
      break;
    }
    case 'histogram':
      metric = { label, histogram: histogram(fam, s) };
      break;
  }
  return metricFamilyType().encode({ metric: [metric] }).finish();
}

function histogram(fam: Family, s: Series): Record<string, unknown> {
  const bounds = fam.bounds!;
  const b = s.buckets!;
  const bucket: { cumulative_count: number; upper_bound: number }[] = [];
  let cum = 0;
  for (let i = 0; i < b.length; i++) {
    cum += b[i]!;
    bucket.push({ cumulative_count: cum, upper_bound: bounds[i]! });
  }
  const h: Record<string, unknown> = { sample_count: s.count, sample_sum: s.sum, bucket };
  const n = s.native;
  if (n !== null) {
    h['schema'] = n.schema;
    h['zero_threshold'] = n.zeroThreshold;
    h['zero_count'] = n.zeroCount;
    const pos = sides(n.positive);
    const neg = sides(n.negative);
    // A native histogram without observations still says it is one: an empty span.
    h['positive_span'] = pos.spans.length === 0 && neg.spans.length === 0 && n.zeroCount === 0 ? [{ offset: 0, length: 0 }] : pos.spans;
    h['positive_delta'] = deltas(pos.counts);
    h['negative_span'] = neg.spans;
    h['negative_delta'] = deltas(neg.counts);
  }
  return h;
}

/** Counts as the deltas the integer fields carry (each bucket's count minus the previous one's). */
function deltas(counts: readonly number[]): number[] {
  const out: number[] = [];
  let prev = 0;
  for (const c of counts) {
    out.push(c - prev);
    prev = c;
  }
  return out;
}

/** The varint length prefix of one delimited message. */
export function lengthPrefix(n: number): Uint8Array {
  return protobuf.Writer.create().uint32(n).finish();
}
