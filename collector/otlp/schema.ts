/**
 * OTLP metrics messages, decoded and encoded with the code the OpenTelemetry JS project
 * generated from the opentelemetry-proto definitions (protobufjs static code, published in
 * `@opentelemetry/otlp-transformer` up to 0.215; newer releases only encode). Nothing here
 * decodes protobuf by hand.
 *
 * The interfaces below describe the decoded objects as far as the receiver reads them. 64-bit
 * fields arrive as `Long` objects (protobufjs) or numbers (JSON), so `num()` reads either.
 */
import generated from 'otlp-transformer-generated/build/src/generated/root.js';

interface LongLike {
  toNumber(): number;
}
export type Int64 = number | LongLike | string | null | undefined;

export interface AnyValue {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: Int64;
  doubleValue?: number | null;
  arrayValue?: { values?: AnyValue[] | null } | null;
  kvlistValue?: { values?: KeyValue[] | null } | null;
  bytesValue?: Uint8Array | null;
  /** Name of the field set in the `value` oneof. */
  value?: string;
}
export interface KeyValue {
  key: string;
  value?: AnyValue | null;
}
export interface NumberDataPoint {
  attributes?: KeyValue[] | null;
  startTimeUnixNano?: Int64;
  timeUnixNano?: Int64;
  asDouble?: number | null;
  asInt?: Int64;
  flags?: number | null;
  value?: 'asDouble' | 'asInt';
}
export interface HistogramDataPoint {
  attributes?: KeyValue[] | null;
  count?: Int64;
  sum?: number | null;
  bucketCounts?: Int64[] | null;
  explicitBounds?: number[] | null;
  flags?: number | null;
}
export interface ExponentialBuckets {
  offset?: number | null;
  bucketCounts?: Int64[] | null;
}
export interface ExponentialHistogramDataPoint {
  attributes?: KeyValue[] | null;
  count?: Int64;
  sum?: number | null;
  scale?: number | null;
  zeroCount?: Int64;
  positive?: ExponentialBuckets | null;
  negative?: ExponentialBuckets | null;
  flags?: number | null;
}
export interface SummaryDataPoint {
  attributes?: KeyValue[] | null;
  count?: Int64;
  sum?: number | null;
  quantileValues?: { quantile?: number | null; value?: number | null }[] | null;
  flags?: number | null;
}
export interface Metric {
  name: string;
  description?: string | null;
  unit?: string | null;
  gauge?: { dataPoints?: NumberDataPoint[] | null } | null;
  sum?: { dataPoints?: NumberDataPoint[] | null; aggregationTemporality?: number | null; isMonotonic?: boolean | null } | null;
  histogram?: { dataPoints?: HistogramDataPoint[] | null; aggregationTemporality?: number | null } | null;
  exponentialHistogram?: { dataPoints?: ExponentialHistogramDataPoint[] | null; aggregationTemporality?: number | null } | null;
  summary?: { dataPoints?: SummaryDataPoint[] | null } | null;
  /** Name of the field set in the `data` oneof. */
  data?: string;
}
export interface ScopeMetrics {
  scope?: { name?: string | null; version?: string | null } | null;
  metrics?: Metric[] | null;
}
export interface ResourceMetrics {
  resource?: { attributes?: KeyValue[] | null } | null;
  scopeMetrics?: ScopeMetrics[] | null;
}
export interface ExportMetricsServiceRequest {
  resourceMetrics?: ResourceMetrics[] | null;
}

interface MessageType<T> {
  decode(data: Uint8Array): T;
  encode(message: unknown): { finish(): Uint8Array };
  fromObject(object: Record<string, unknown>): T;
  toObject(message: T, options?: Record<string, unknown>): Record<string, unknown>;
}

interface GeneratedRoot {
  opentelemetry: {
    proto: {
      collector: {
        metrics: {
          v1: {
            ExportMetricsServiceRequest: MessageType<ExportMetricsServiceRequest>;
            ExportMetricsServiceResponse: MessageType<unknown>;
          };
        };
      };
    };
  };
}

const v1 = (generated as unknown as GeneratedRoot).opentelemetry.proto.collector.metrics.v1;

/** AggregationTemporality values of the proto enum. */
export const TEMPORALITY_DELTA = 1;
export const TEMPORALITY_CUMULATIVE = 2;
/** DataPointFlags.FLAG_NO_RECORDED_VALUE: the point marks a series as gone, it carries no value. */
export const FLAG_NO_RECORDED_VALUE = 1;

/** Decodes a binary ExportMetricsServiceRequest; throws on malformed input. */
export function decodeRequest(body: Uint8Array): ExportMetricsServiceRequest {
  return v1.ExportMetricsServiceRequest.decode(body);
}

/**
 * Reads an OTLP/JSON ExportMetricsServiceRequest (lowerCamelCase keys, 64-bit integers as
 * strings or numbers, enums as numbers or names); throws on malformed input.
 */
export function parseJsonRequest(text: string): ExportMetricsServiceRequest {
  const obj: unknown = JSON.parse(text);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new TypeError('expected a JSON object');
  return v1.ExportMetricsServiceRequest.fromObject(obj as Record<string, unknown>);
}

/** Encodes a request (used by tests and benchmarks to build payloads, and by the k6 replay). */
export function encodeRequest(req: Record<string, unknown>): Uint8Array {
  return v1.ExportMetricsServiceRequest.encode(v1.ExportMetricsServiceRequest.fromObject(req)).finish();
}

/** A request as plain JSON-ready data (64-bit numbers as strings), for tests that inspect one. */
export function requestToObject(req: ExportMetricsServiceRequest): Record<string, unknown> {
  return v1.ExportMetricsServiceRequest.toObject(req, { longs: String, enums: Number, defaults: false, oneofs: false });
}

/** ExportMetricsServiceResponse, with partial_success when some points were rejected. */
export function encodeResponse(rejected: number, message: string): Uint8Array {
  const body = rejected > 0 ? { partialSuccess: { rejectedDataPoints: rejected, errorMessage: message } } : {};
  return v1.ExportMetricsServiceResponse.encode(v1.ExportMetricsServiceResponse.fromObject(body)).finish();
}

export function responseJson(rejected: number, message: string): string {
  return JSON.stringify(rejected > 0 ? { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: message } } : {});
}

/** Reads a 64-bit field from either decoder as a JS number. */
export function num(v: Int64): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}
