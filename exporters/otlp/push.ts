/**
 * OTLP push: every series the store holds (statsd, OTLP, host collector, probes, analysis, the
 * agent's own) exported through the OpenTelemetry JS SDK: a MetricProducer reads the store, an
 * SDK MetricReader collects it under the agent's resource, and the SDK's OTLP/HTTP exporter
 * (protobuf or JSON) sends it, retrying retryable answers with its own backoff.
 *
 * A slow or dead endpoint never stalls ingestion: the store is read synchronously once per
 * interval (no I/O while reading), at most `maxQueue` exports are in flight (an interval that
 * finds the queue full is dropped and counted), and after a failed export the next ones wait
 * an exponentially growing number of intervals (up to 5 minutes; those are counted too).
 *
 * Types: counters are monotonic sums, gauges gauges, histograms explicit-bucket histograms;
 * summaries become a gauge per quantile (attribute `quantile`) plus `_sum` and `_count` sums,
 * since the SDK has no summary point. Names and labels are the Prometheus ones, so a Collector
 * writing to Prometheus gives the same series back.
 */
import os from 'node:os';
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes, detectResources, envDetector } from '@opentelemetry/resources';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as JsonExporter, AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import type { Family, Series, Store } from '../../core/store.js';
import type { Logger } from '../../core/log.js';

export interface PushOptions {
  endpoint: string;
  headers: Readonly<Record<string, string>>;
  protocol: 'http/protobuf' | 'http/json';
  intervalMs: number;
  timeoutMs: number;
  temporality: 'cumulative' | 'delta';
  /** Exports in flight at most; an interval that finds them all busy is dropped. */
  maxQueue: number;
  version: string;
}

/** Why an interval exported nothing, the `reason` label of `redline_otlp_export_dropped_total`. */
export const EXPORT_DROP_REASONS = ['queue_full', 'backoff'] as const;
export type ExportDropReason = (typeof EXPORT_DROP_REASONS)[number];

const MAX_BACKOFF_MS = 5 * 60_000;

function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The attributes of a series, parsed from its serialised labels. */
function attributesOf(labels: string): Attributes {
  const out: Attributes = {};
  for (const m of labels.matchAll(LABEL)) out[m[1]!] = m[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return out;
}

/** What the previous export sent of a series, for delta temporality, and when it was first seen. */
interface SeriesState {
  attributes: Attributes;
  startMs: number;
  value: number;
  count: number;
  sum: number;
  buckets: Float64Array | null;
}

/** Reads the store as SDK metric data. */
export class StoreProducer implements MetricProducer {
  private readonly state = new WeakMap<Series, SeriesState>();
  /** Series in the last collection. */
  lastSeries = 0;

  constructor(
    private readonly store: Store,
    private readonly delta: boolean,
  ) {}

  async collect(): Promise<CollectionResult> {
    await this.store.refresh();
    return { resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: { name: 'redline' }, metrics: this.snapshot() }] }, errors: [] };
  }

  /** One synchronous pass over the store. */
  snapshot(nowMs: number = Date.now()): MetricData[] {
    this.store.collect();
    const end = hrTime(nowMs);
    const metrics: MetricData[] = [];
    let n = 0;
    for (const fam of this.store.families.values()) {
      if (fam.series.size === 0) continue;
      n += fam.series.size;
      switch (fam.type) {
        case 'counter':
          metrics.push(this.sum(fam, fam.name, end, nowMs, (s) => s.value));
          break;
        case 'gauge':
          metrics.push({
            descriptor: { name: fam.name, description: fam.help, unit: '', valueType: ValueType.DOUBLE },
            aggregationTemporality: AggregationTemporality.CUMULATIVE,
            dataPointType: DataPointType.GAUGE,
            dataPoints: [...fam.series.values()].map((s) => ({ startTime: end, endTime: end, attributes: this.seriesState(s, nowMs).attributes, value: s.value })),
          });
          break;
        case 'histogram':
          metrics.push(this.histogram(fam, end, nowMs));
          break;
        case 'summary':
          metrics.push(...this.summary(fam, end, nowMs));
          break;
      }
    }
    this.lastSeries = n;
    return metrics;
  }

  private seriesState(s: Series, nowMs: number): SeriesState {
    let st = this.state.get(s);
    if (st === undefined) {
      st = { attributes: attributesOf(s.labels), startMs: nowMs, value: 0, count: 0, sum: 0, buckets: s.buckets ? new Float64Array(s.buckets.length) : null };
      this.state.set(s, st);
    }
    return st;
  }

  private sum(fam: Family, name: string, end: HrTime, nowMs: number, read: (s: Series) => number, field: 'value' | 'count' | 'sum' = 'value'): MetricData {
    const points = [];
    for (const s of fam.series.values()) {
      const st = this.seriesState(s, nowMs);
      const v = read(s);
      let out = v;
      let start = hrTime(st.startMs);
      if (this.delta) {
        // A value below the last one is a reset (a series that expired and came back): all of it is new.
        out = v >= st[field] ? v - st[field] : v;
        start = hrTime(st.startMs);
        st[field] = v;
        st.startMs = nowMs;
      }
      points.push({ startTime: start, endTime: end, attributes: st.attributes, value: out });
    }
    return {
      descriptor: { name, description: fam.help, unit: '', valueType: ValueType.DOUBLE },
      aggregationTemporality: this.delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: points,
    };
  }

  private histogram(fam: Family, end: HrTime, nowMs: number): MetricData {
    const boundaries = [...fam.bounds!];
    const points = [];
    for (const s of fam.series.values()) {
      const st = this.seriesState(s, nowMs);
      const b = s.buckets!;
      const counts = new Array<number>(b.length + 1);
      let finite = 0;
      for (let i = 0; i < b.length; i++) finite += b[i]!;
      const overflow = Math.max(0, s.count - finite);
      const reset = this.delta && (s.count < st.count || b.some((c, i) => c < st.buckets![i]!));
      for (let i = 0; i < b.length; i++) counts[i] = this.delta && !reset ? b[i]! - st.buckets![i]! : b[i]!;
      const lastOverflow = Math.max(0, st.count - st.buckets!.reduce((a, c) => a + c, 0));
      counts[b.length] = this.delta && !reset ? overflow - lastOverflow : overflow;
      const count = this.delta && !reset ? s.count - st.count : s.count;
      const sum = this.delta && !reset ? s.sum - st.sum : s.sum;
      const start = hrTime(st.startMs);
      if (this.delta) {
        st.buckets!.set(b);
        st.count = s.count;
        st.sum = s.sum;
        st.startMs = nowMs;
      }
      points.push({ startTime: start, endTime: end, attributes: st.attributes, value: { buckets: { boundaries, counts }, sum, count } });
    }
    return {
      descriptor: { name: fam.name, description: fam.help, unit: '', valueType: ValueType.DOUBLE },
      aggregationTemporality: this.delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: points,
    };
  }

  private summary(fam: Family, end: HrTime, nowMs: number): MetricData[] {
    const qs = fam.summaryOptions!.quantiles;
    const points = [];
    for (const s of fam.series.values()) {
      const st = this.seriesState(s, nowMs);
      const values = s.quantileValues ?? s.summary!.quantiles(nowMs);
      for (let i = 0; i < qs.length; i++) {
        points.push({ startTime: end, endTime: end, attributes: { ...st.attributes, quantile: String(qs[i]!.quantile) }, value: values[i]! });
      }
    }
    return [
      {
        descriptor: { name: fam.name, description: fam.help, unit: '', valueType: ValueType.DOUBLE },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.GAUGE,
        dataPoints: points,
      },
      this.sum(fam, `${fam.name}_sum`, end, nowMs, (s) => s.sum, 'sum'),
      this.sum(fam, `${fam.name}_count`, end, nowMs, (s) => s.count, 'count'),
    ];
  }
}

/** A reader the pusher drives itself (no timer of the SDK's): collect() when it decides to. */
class PushReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Counters of the push, published as `redline_otlp_export_*`. */
export class PushStats {
  readonly exports = { success: 0, failure: 0 };
  readonly dropped = new Map<ExportDropReason, number>(EXPORT_DROP_REASONS.map((r) => [r, 0]));
  inFlight = 0;
  lastSeries = 0;
  lastCollectSeconds = 0;
  lastSuccessSeconds = 0;
}

export class OtlpPusher {
  readonly stats = new PushStats();
  private readonly producer: StoreProducer;
  private readonly reader: PushReader;
  private readonly provider: MeterProvider;
  private readonly exporter: PushMetricExporter;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private nextAllowedMs = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    store: Store,
    private readonly opts: PushOptions,
    private readonly logger: Logger,
  ) {
    this.producer = new StoreProducer(store, opts.temporality === 'delta');
    // The reader takes its producers at construction; the store is the only source (the SDK's own meters are empty).
    this.reader = new PushReader({ metricProducers: [this.producer] });
    const detected = detectResources({ detectors: [envDetector] });
    const resource = resourceFromAttributes({
      'service.name': 'redline',
      'service.version': opts.version,
      'service.instance.id': `${os.hostname()}:${process.pid}`,
      'host.name': os.hostname(),
    }).merge(detected);
    this.provider = new MeterProvider({ resource, readers: [this.reader] });
    const config = {
      url: opts.endpoint,
      headers: { ...opts.headers },
      timeoutMillis: opts.timeoutMs,
      concurrencyLimit: opts.maxQueue,
      temporalityPreference: opts.temporality === 'delta' ? AggregationTemporalityPreference.DELTA : AggregationTemporalityPreference.CUMULATIVE,
    };
    this.exporter = opts.protocol === 'http/json' ? new JsonExporter(config) : new ProtoExporter(config);
  }

  get description(): string {
    return `OTLP push (${this.opts.protocol}, ${this.opts.temporality}) every ${this.opts.intervalMs} ms to ${this.opts.endpoint}`;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One interval: export unless the queue is full or a backoff is running. */
  tick(nowMs: number = Date.now()): void {
    if (this.stats.inFlight >= this.opts.maxQueue) return this.drop('queue_full');
    if (nowMs < this.nextAllowedMs) return this.drop('backoff');
    const p = this.exportOnce().finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Collects and exports once; resolves when the export has finished, never rejects. */
  async exportOnce(): Promise<void> {
    this.stats.inFlight++;
    try {
      const t0 = process.hrtime.bigint();
      const { resourceMetrics } = await this.reader.collect({ timeoutMillis: this.opts.timeoutMs });
      this.stats.lastCollectSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      this.stats.lastSeries = this.producer.lastSeries;
      const ok = await this.send(resourceMetrics);
      if (ok) {
        this.stats.exports.success++;
        this.stats.lastSuccessSeconds = Date.now() / 1000;
        this.failures = 0;
        this.nextAllowedMs = 0;
      } else {
        this.stats.exports.failure++;
        this.failures++;
        this.nextAllowedMs = Date.now() + Math.min(MAX_BACKOFF_MS, this.opts.intervalMs * 2 ** (this.failures - 1));
      }
    } catch (err) {
      this.stats.exports.failure++;
      this.logger.rateLimited('otlp_export_collect', 'OTLP push could not read the store', { error: (err as Error).message });
    } finally {
      this.stats.inFlight--;
    }
  }

  private send(rm: ResourceMetrics): Promise<boolean> {
    return new Promise((resolve) => {
      try {
        this.exporter.export(rm, (result) => {
          if (result.code !== 0) {
            this.logger.rateLimited('otlp_export_failed', 'OTLP push failed; backing off', { endpoint: this.opts.endpoint, error: result.error?.message ?? 'unknown' });
          }
          resolve(result.code === 0);
        });
      } catch (err) {
        this.logger.rateLimited('otlp_export_failed', 'OTLP push failed; backing off', { endpoint: this.opts.endpoint, error: (err as Error).message });
        resolve(false);
      }
    });
  }

  private drop(reason: ExportDropReason): void {
    this.stats.dropped.set(reason, (this.stats.dropped.get(reason) ?? 0) + 1);
  }

  /** Stops the timer; waits for exports in flight up to `deadlineMs`, then lets them go. */
  async stop(deadlineMs = 2000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.pending), new Promise<void>((r) => (timeout = setTimeout(r, deadlineMs)))]);
    clearTimeout(timeout);
    await Promise.race([this.provider.shutdown().catch(() => undefined), new Promise<void>((r) => setTimeout(r, 100).unref())]);
    await this.exporter.shutdown().catch(() => undefined);
  }
}
