import { describe, expect, it } from 'vitest';
import { labelName, prometheusName } from './names.js';

describe('prometheusName (Prometheus OTLP translation with suffixes)', () => {
  it.each([
    // name, unit, kind, expected
    ['http.server.request.duration', 's', 'histogram', 'http_server_request_duration_seconds'],
    ['http.server.duration', 'ms', 'histogram', 'http_server_duration_milliseconds'],
    ['http.requests', '{request}', 'counter', 'http_requests_total'],
    ['requests_total', '', 'counter', 'requests_total'],
    ['system.network.io', 'By', 'counter', 'system_network_io_bytes_total'],
    ['throughput', 'By/s', 'gauge', 'throughput_bytes_per_second'],
    ['cpu.utilization', '1', 'gauge', 'cpu_utilization_ratio'],
    ['cpu.utilization', '1', 'updown', 'cpu_utilization'],
    ['memory.limit', 'MiBy', 'gauge', 'memory_limit_mebibytes'],
    ['latency_seconds', 's', 'histogram', 'latency_seconds'],
    ['http_req_failed.total', '', 'counter', 'http_req_failed_total'],
    ['total.requests', '', 'counter', 'requests_total'],
    ['2xx.count', '', 'gauge', '_2xx_count'],
    ['queue..depth--now', '', 'gauge', 'queue_depth_now'],
    ['temp', 'Cel', 'gauge', 'temp_celsius'],
    ['rate', 'm/h', 'gauge', 'rate_meters_per_hour'],
    ['vus', '', 'gauge', 'vus'],
  ] as const)('%s [%s] as %s -> %s', (name, unit, kind, expected) => {
    expect(prometheusName(name, unit, kind)).toBe(expected);
  });
});

describe('labelName', () => {
  it.each([
    ['http.method', 'http_method'],
    ['service-name', 'service_name'],
    ['2xx', 'key_2xx'],
    ['_private', 'key_private'],
    ['__reserved', '__reserved'],
    ['ok_name', 'ok_name'],
    ['', ''],
  ])('%s -> %s', (key, expected) => {
    expect(labelName(key)).toBe(expected);
  });
});
