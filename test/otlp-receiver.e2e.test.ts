/**
 * The OTLP receiver fed by the real OpenTelemetry JS SDK (sdk-metrics with the OTLP/HTTP JSON
 * and protobuf exporters, cumulative and delta) over 127.0.0.1, and by malformed requests.
 */
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeterProvider, PeriodicExportingMetricReader, AggregationType } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPMetricExporter as JsonExporter, AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { Store } from '../core/store.js';
import { Logger } from '../core/log.js';
import { render } from '../exporters/exposition.js';
import { startOtlpReceiver, type OtlpSource } from '../collector/otlp/index.js';
import { encodeRequest } from '../collector/otlp/schema.js';
import { parseValue } from './helpers/agent.js';

const MAX_BYTES = 64 * 1024;
let store: Store;
let source: OtlpSource;
let url: string;

beforeAll(async () => {
  store = new Store({ maxSeries: 10_000, setIntervalMs: 10_000 });
  source = await startOtlpReceiver(store, { listenAddress: { host: '127.0.0.1', port: 0 }, maxRequestBytes: MAX_BYTES, ttlMs: 0, mappingFiles: [] }, new Logger('error', () => {}));
  url = `http://127.0.0.1:${source.port}/v1/metrics`;
});
afterAll(async () => {
  await source.stop();
});

const value = (series: string): number | undefined => parseValue(render(store, 'text'), series);

type Kind = 'json' | 'protobuf';
function client(kind: Kind, temporality: AggregationTemporalityPreference, service: string, gzip = false): MeterProvider {
  const opts = { url, temporalityPreference: temporality, ...(gzip ? { compression: 'gzip' as CompressionAlgorithm } : {}) };
  const exporter = kind === 'json' ? new JsonExporter(opts) : new ProtoExporter(opts);
  return new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'service.instance.id': `${service}-1`, 'deployment.environment.name': 'staging' }),
    // A long interval: the test decides when to export with forceFlush.
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
    views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
}

async function exercise(provider: MeterProvider): Promise<void> {
  const meter = provider.getMeter('test');
  const requests = meter.createCounter('http.requests', { unit: '{request}' });
  const users = meter.createUpDownCounter('active.users');
  const temp = meter.createGauge('queue.fill', { unit: '1' });
  const latency = meter.createHistogram('http.server.duration', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
  const size = meter.createHistogram('payload.size', { unit: 'By' });
  requests.add(3, { 'http.method': 'GET' });
  users.add(5);
  temp.record(0.25);
  latency.record(5);
  latency.record(50);
  size.record(3);
  await provider.forceFlush();
  requests.add(4, { 'http.method': 'GET' });
  users.add(-2);
  temp.record(0.5);
  latency.record(500);
  size.record(1000);
  await provider.forceFlush();
}

describe.each([
  ['json', AggregationTemporalityPreference.CUMULATIVE, false],
  ['json', AggregationTemporalityPreference.DELTA, true],
  ['protobuf', AggregationTemporalityPreference.CUMULATIVE, true],
  ['protobuf', AggregationTemporalityPreference.DELTA, false],
] as const)('SDK over OTLP/HTTP %s, temporality %s, gzip %s', (kind, temporality, gzip) => {
  const service = `svc-${kind}-${temporality}`;
  const l = `instance="${service}-1",job="${service}"`;
  it('lands every instrument with exact values', async () => {
    const before = store.families.get('redline_otlp_requests_total') ? value(`redline_otlp_requests_total{encoding="${kind}"}`) ?? 0 : 0;
    const provider = client(kind, temporality, service, gzip);
    await exercise(provider);
    expect(value(`redline_otlp_requests_total{encoding="${kind}"}`)).toBe(before + 2);
    await provider.shutdown();
    expect(value(`http_requests_total{http_method="GET",${l}}`)).toBe(7);
    expect(value(`active_users{${l}}`)).toBe(3);
    expect(value(`queue_fill_ratio{${l}}`)).toBe(0.5);
    expect(value(`http_server_duration_milliseconds_bucket{${l},le="10"}`)).toBe(1);
    expect(value(`http_server_duration_milliseconds_bucket{${l},le="100"}`)).toBe(2);
    expect(value(`http_server_duration_milliseconds_bucket{${l},le="+Inf"}`)).toBe(3);
    expect(value(`http_server_duration_milliseconds_sum{${l}}`)).toBe(555);
    expect(value(`http_server_duration_milliseconds_count{${l}}`)).toBe(3);
    // 3 is in (2, 4], 1000 in (512, 1024].
    expect(value(`payload_size_bytes_bucket{${l},le="2"}`)).toBe(0);
    expect(value(`payload_size_bytes_bucket{${l},le="4"}`)).toBe(1);
    expect(value(`payload_size_bytes_bucket{${l},le="512"}`)).toBe(1);
    expect(value(`payload_size_bytes_bucket{${l},le="1024"}`)).toBe(2);
    expect(value(`payload_size_bytes_sum{${l}}`)).toBe(1003);
    // service.name and service.instance.id became job and instance; the rest is target_info.
    expect(value(`target_info{deployment_environment_name="staging",${l}}`)).toBe(1);
  });
});

describe('bad requests', () => {
  const post = (body: Buffer | string, headers: Record<string, string>, path = '/v1/metrics'): Promise<Response> =>
    fetch(`http://127.0.0.1:${source.port}${path}`, { method: 'POST', body, headers });
  const errors = (reason: string): number => value(`redline_otlp_request_errors_total{reason="${reason}"}`) ?? 0;

  it('answers 400 to a body that is not protobuf, and counts it', async () => {
    const before = errors('decode_error');
    const res = await post(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect(errors('decode_error')).toBe(before + 1);
  });

  it('answers 400 with a JSON Status to bad JSON', async () => {
    const res = await post('{"resourceMetrics": 5}', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: number; message: string };
    expect(body.code).toBe(3);
    expect(body.message).toMatch(/cannot decode ExportMetricsServiceRequest/);
  });

  it('refuses bodies over the limit, before and after gzip', async () => {
    const before = errors('too_large');
    expect((await post(Buffer.alloc(MAX_BYTES + 1), { 'content-type': 'application/x-protobuf' })).status).toBe(413);
    // 10 MiB of zeros compress to about 10 KiB: refused once inflated past the limit.
    const bomb = zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(MAX_BYTES);
    expect((await post(bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' })).status).toBe(413);
    expect(errors('too_large')).toBe(before + 2);
  });

  it('answers 400 to a broken gzip stream, 415 to other media types, 404 and 405 elsewhere', async () => {
    expect((await post(Buffer.from('not gzip'), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' })).status).toBe(400);
    expect((await post('x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('x', { 'content-type': 'application/x-protobuf', 'content-encoding': 'br' })).status).toBe(415);
    expect((await post('x', { 'content-type': 'application/x-protobuf' }, '/v1/traces')).status).toBe(404);
    expect((await fetch(url)).status).toBe(405);
    expect(errors('bad_compression')).toBeGreaterThanOrEqual(1);
    expect(errors('unsupported_media_type')).toBeGreaterThanOrEqual(1);
  });

  it('reports refused points as a partial success and keeps going', async () => {
    const body = encodeRequest({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'neg', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asDouble: -1 }] } }] }] }],
    });
    const res = await post(Buffer.from(body), { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    // partial_success (field 1) is present when points were rejected.
    expect(bytes[0]).toBe(0x0a);
    expect(value('redline_otlp_dropped_total{reason="invalid_data_point"}')).toBeGreaterThanOrEqual(1);
  });
});
