/**
 * One running agent, three kinds of sender: a replayed k6 OpenTelemetry export (--preset k6),
 * an OpenTelemetry-instrumented Node service (the real JS SDK) and a statsd client, all over
 * 127.0.0.1. Values on /metrics are asserted exactly; bad OTLP input costs no statsd line.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { startAgent, waitFor, type AgentProcess } from './helpers/agent.js';
import { parseExposition, valueWith } from './helpers/exposition.js';
import { encodeRequest } from '../collector/otlp/schema.js';
import { K6_EXPORT } from './fixtures/k6-otlp.js';

let agent: AgentProcess;
let otlpUrl: string;

beforeAll(async () => {
  agent = await startAgent(['--preset', 'k6', '--preset', 'loadtest']);
  expect(agent.otlpPort).toBeGreaterThan(0);
  otlpUrl = `http://127.0.0.1:${agent.otlpPort}/v1/metrics`;
});
afterAll(async () => {
  await agent?.stop();
});

const post = (body: Uint8Array | string, type: string): Promise<Response> => fetch(otlpUrl, { method: 'POST', body, headers: { 'content-type': type } });

describe('k6 over OTLP with --preset k6', () => {
  it.each(['protobuf', 'json'] as const)('lands a replayed k6 export (%s) on the loadtest_* names and the injector signals', async (encoding) => {
    const res =
      encoding === 'protobuf'
        ? await post(encodeRequest(K6_EXPORT), 'application/x-protobuf')
        : await post(JSON.stringify(K6_EXPORT), 'application/json');
    expect(res.status).toBe(200);
    const text = await agent.metrics();
    const ok = { expected_response: 'true', job: 'k6', method: 'GET', name: 'http://127.0.0.1:8080/api', proto: 'HTTP/1.1', scenario: 'default', status: '200' };
    const failed = { ...ok, expected_response: 'false', status: '503' };
    expect(valueWith(text, 'loadtest_requests_total', ok)).toBe(97);
    expect(valueWith(text, 'loadtest_requests_total', failed)).toBe(3);
    expect(valueWith(text, 'loadtest_errors_total', failed)).toBe(3);
    expect(valueWith(text, 'loadtest_errors_total', ok)).toBeUndefined();
    // ms -> s on the statsd presets' bounds; k6's agree with them from 5 ms to 10 s.
    expect(valueWith(text, 'loadtest_request_duration_seconds_bucket', { ...ok, le: '0.005' })).toBe(10);
    expect(valueWith(text, 'loadtest_request_duration_seconds_bucket', { ...ok, le: '0.05' })).toBe(80);
    expect(valueWith(text, 'loadtest_request_duration_seconds_bucket', { ...ok, le: '0.1' })).toBe(95);
    expect(valueWith(text, 'loadtest_request_duration_seconds_bucket', { ...ok, le: '0.25' })).toBe(97);
    expect(valueWith(text, 'loadtest_request_duration_seconds_bucket', { ...failed, le: '0.5' })).toBe(1);
    expect(valueWith(text, 'loadtest_request_duration_seconds_bucket', { ...failed, le: '1' })).toBe(3);
    expect(valueWith(text, 'loadtest_request_duration_seconds_sum', ok)).toBe(2.6);
    expect(valueWith(text, 'loadtest_request_duration_seconds_count', ok)).toBe(97);
    expect(valueWith(text, 'loadtest_request_phase_seconds_count', { ...ok, phase: 'waiting' })).toBe(97);
    expect(valueWith(text, 'loadtest_checks_total', { check: 'status is 200', job: 'k6', result: 'pass', scenario: 'default' })).toBe(97);
    expect(valueWith(text, 'loadtest_checks_total', { check: 'status is 200', job: 'k6', result: 'fail', scenario: 'default' })).toBe(3);
    expect(valueWith(text, 'loadtest_sent_bytes_total', { job: 'k6', scenario: 'default' })).toBe(8600);
    expect(valueWith(text, 'loadtest_iteration_duration_seconds_count', { job: 'k6', scenario: 'default' })).toBe(100);
    // The injector signals the analysis stage reads, and the dashboards' names for users.
    expect(valueWith(text, 'k6_vus', { job: 'k6' })).toBe(12);
    expect(valueWith(text, 'k6_vus_max', { job: 'k6' })).toBe(15);
    expect(valueWith(text, 'loadtest_active_users', { job: 'k6' })).toBe(12);
    expect(valueWith(text, 'loadtest_max_users', { job: 'k6' })).toBe(15);
    expect(valueWith(text, 'k6_dropped_iterations_total', { job: 'k6', scenario: 'default' })).toBe(3);
    expect(valueWith(text, 'k6_iterations_total', { job: 'k6', scenario: 'default' })).toBe(100);
    expect(valueWith(text, 'loadtest_iterations_total', { job: 'k6', scenario: 'default' })).toBe(100);
    expect(valueWith(text, 'target_info', { job: 'k6', service_version: 'v1.4.0', telemetry_sdk_language: 'go', telemetry_sdk_name: 'opentelemetry', telemetry_sdk_version: '1.38.0' })).toBe(1);
    // url duplicates name and group would clash with Redline's process groups.
    expect(text).not.toMatch(/^loadtest_[a-z_]+\{[^}]*\burl="/m);
    expect(text).not.toContain('condition=');
    expect(text).not.toMatch(/^k6_http_req_failed/m);
  });
});

describe('a statsd client, an OpenTelemetry service and k6 on one agent', () => {
  it('fill the same families side by side', async () => {
    // The statsd client: an injector reporting loadtest_* with DogStatsD tags.
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) =>
      sock.send('loadtest_requests_total:5|c|#scenario:locust,step:home\nloadtest_request_duration_seconds:0.2|ms|#scenario:locust,step:home', agent.udpPort!, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
    sock.close();
    // The OpenTelemetry-instrumented service.
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.instance.id': 'pod-1' }),
      readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: otlpUrl }), exportIntervalMillis: 3_600_000 })],
    });
    const meter = provider.getMeter('checkout');
    meter.createCounter('loadtest_requests_total').add(2, { scenario: 'otel' });
    meter.createHistogram('http.server.request.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.1, 1] } }).record(0.3, { 'http.route': '/pay' });
    await provider.forceFlush();
    await provider.shutdown();
    await post(encodeRequest(K6_EXPORT), 'application/x-protobuf');

    const text = await waitFor(async () => {
      const t = await agent.metrics();
      return valueWith(t, 'loadtest_requests_total', { scenario: 'locust', step: 'home' }) === 5 ? t : null;
    });
    const families = parseExposition(text);
    expect(text.match(/^# TYPE loadtest_requests_total counter$/gm)).toHaveLength(1);
    expect(valueWith(text, 'loadtest_requests_total', { job: 'checkout', instance: 'pod-1', scenario: 'otel' })).toBe(2);
    expect(families.get('loadtest_requests_total')!.filter((s) => s.labels['job'] === 'k6').length).toBe(2);
    expect(valueWith(text, 'http_server_request_duration_seconds_bucket', { http_route: '/pay', instance: 'pod-1', job: 'checkout', le: '1' })).toBe(1);
    // The statsd timer and k6's histogram share one family, on the same bounds.
    expect(valueWith(text, 'loadtest_request_duration_seconds_bucket', { scenario: 'locust', step: 'home', le: '0.25' })).toBe(1);
    expect(valueWith(text, 'loadtest_request_duration_seconds_bucket', { expected_response: 'true', job: 'k6', method: 'GET', name: 'http://127.0.0.1:8080/api', proto: 'HTTP/1.1', scenario: 'default', status: '200', le: '0.25' })).toBe(97);
  });

  it('bad OTLP input is refused with 400 and counted; statsd goes on', async () => {
    const res = await post(new Uint8Array([0x0a, 0xff, 0xff]), 'application/x-protobuf');
    expect(res.status).toBe(400);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => sock.send('after_bad_otlp:1|c', agent.udpPort!, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    sock.close();
    const text = await waitFor(async () => {
      const t = await agent.metrics();
      return valueWith(t, 'after_bad_otlp') === 1 ? t : null;
    });
    expect(valueWith(text, 'redline_otlp_request_errors_total', { reason: 'decode_error' })).toBe(1);
    expect(valueWith(text, 'redline_statsd_line_errors_total', { reason: 'malformed_line' })).toBe(0);
  });
});
