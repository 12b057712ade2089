/**
 * The agent's OTLP push, received by an OTLP/HTTP server started here and decoded with the same
 * published definitions the receiver uses. A slow endpoint costs no statsd line.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgent, waitFor, type AgentProcess } from './helpers/agent.js';
import { valueWith } from './helpers/exposition.js';
import { decodeRequest, parseJsonRequest, encodeResponse, num, type ExportMetricsServiceRequest, type Metric } from '../collector/otlp/schema.js';

interface Sink {
  url: string;
  requests: ExportMetricsServiceRequest[];
  contentTypes: string[];
  close(): Promise<void>;
}

/** An OTLP/HTTP metrics endpoint on 127.0.0.1; `answer: false` accepts requests and never answers. */
async function otlpSink(answer = true): Promise<Sink> {
  const requests: ExportMetricsServiceRequest[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = String(req.headers['content-type']);
      contentTypes.push(type);
      const body = Buffer.concat(chunks);
      requests.push(type === 'application/json' ? parseJsonRequest(body.toString('utf8')) : decodeRequest(body));
      if (answer) {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end(encodeResponse(0, ''));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`,
    requests,
    contentTypes,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const metricsOf = (req: ExportMetricsServiceRequest): Metric[] => (req.resourceMetrics ?? []).flatMap((rm) => (rm.scopeMetrics ?? []).flatMap((sm) => sm.metrics ?? []));
const findMetric = (req: ExportMetricsServiceRequest, name: string): Metric | undefined => metricsOf(req).find((m) => m.name === name);

function udp(port: number, payloads: string[]): Promise<void> {
  const sock = dgram.createSocket('udp4');
  return (async () => {
    for (const p of payloads) await new Promise<void>((resolve, reject) => sock.send(p, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    sock.close();
  })();
}

let agent: AgentProcess | undefined;
let sink: Sink | undefined;
afterEach(async () => {
  await agent?.stop();
  await sink?.close();
  agent = undefined;
  sink = undefined;
});

describe('OTLP push', () => {
  it('exports every series the agent holds, cumulative', async () => {
    sink = await otlpSink();
    agent = await startAgent([`--otlp.endpoint=${sink.url}`, '--otlp.interval=200ms', '--preset=loadtest']);
    await udp(agent.udpPort!, ['push_hits:5|c|#route:home', 'push_depth:7|g', 'loadtest_request_duration_seconds:300|ms|#scenario:s']);
    await waitFor(async () => valueWith(await agent!.metrics(), 'push_hits', { route: 'home' }) === 5);
    const last = await waitFor(() => {
      const r = sink!.requests[sink!.requests.length - 1];
      return r && findMetric(r, 'push_hits') && findMetric(r, 'loadtest_request_duration_seconds') ? r : null;
    });
    expect(sink.contentTypes[0]).toBe('application/x-protobuf');
    const hits = findMetric(last, 'push_hits')!;
    expect(hits.sum!.isMonotonic).toBe(true);
    expect(hits.sum!.aggregationTemporality).toBe(2);
    const p = hits.sum!.dataPoints![0]!;
    expect(p.asDouble).toBe(5);
    expect(p.attributes).toEqual([expect.objectContaining({ key: 'route', value: expect.objectContaining({ stringValue: 'home' }) })]);
    expect(findMetric(last, 'push_depth')!.gauge!.dataPoints![0]!.asDouble).toBe(7);
    const h = findMetric(last, 'loadtest_request_duration_seconds')!.histogram!.dataPoints![0]!;
    expect(num(h.count)).toBe(1);
    expect(h.sum).toBe(0.3);
    const bounds = h.explicitBounds!;
    const counts = h.bucketCounts!.map(num);
    expect(counts).toHaveLength(bounds.length + 1);
    expect(counts[bounds.indexOf(0.5)]).toBe(1);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
    // The agent's own series go too: self-metrics and prom-client's runtime metrics.
    expect(findMetric(last, 'redline_statsd_lines_total')).toBeDefined();
    expect(findMetric(last, 'process_cpu_seconds_total')).toBeDefined();
    expect(findMetric(last, 'nodejs_heap_size_used_bytes')).toBeDefined();
    const resource = Object.fromEntries((last.resourceMetrics![0]!.resource!.attributes ?? []).map((kv) => [kv.key, kv.value?.stringValue]));
    expect(resource['service.name']).toBe('redline');
    const text = await agent.metrics();
    expect(valueWith(text, 'redline_otlp_exports_total', { outcome: 'success' })).toBeGreaterThan(0);
  });

  it('sends deltas with --otlp.temporality=delta', async () => {
    sink = await otlpSink();
    agent = await startAgent([`--otlp.endpoint=${sink.url}`, '--otlp.interval=200ms', '--otlp.temporality=delta', '--otlp.protocol=http/json']);
    const pointsOf = (): number[] =>
      sink!.requests.flatMap((r) => (findMetric(r, 'push_delta')?.sum?.dataPoints ?? []).map((d) => d.asDouble ?? 0));
    await udp(agent.udpPort!, ['push_delta:5|c']);
    await waitFor(() => pointsOf().includes(5));
    await udp(agent.udpPort!, ['push_delta:3|c']);
    await waitFor(() => pointsOf().includes(3));
    const seen = pointsOf();
    // Each increment is sent once; every other export of the series carries 0.
    expect(seen.filter((v) => v !== 0)).toEqual([5, 3]);
    expect(sink.contentTypes[0]).toBe('application/json');
  });

  it('a slow endpoint costs no statsd line: exports queue up to the limit, the rest are dropped and counted', async () => {
    sink = await otlpSink(false);
    agent = await startAgent([`--otlp.endpoint=${sink.url}`, '--otlp.interval=100ms', '--otlp.timeout=30s', '--otlp.max-queue=2']);
    await waitFor(async () => (valueWith(await agent!.metrics(), 'redline_otlp_export_dropped_total', { reason: 'queue_full' }) ?? 0) >= 3);
    expect(valueWith(await agent.metrics(), 'redline_otlp_export_in_flight')).toBe(2);
    const before = valueWith(await agent.metrics(), 'redline_statsd_lines_total')!;
    const datagrams = Array.from({ length: 100 }, (_, i) => Array.from({ length: 20 }, (_, j) => `slow_push_lines:1|c|#d:${i % 5},l:${j % 4}`).join('\n'));
    await udp(agent.udpPort!, datagrams);
    const text = await waitFor(async () => {
      const t = await agent!.metrics();
      return valueWith(t, 'redline_statsd_lines_total')! - before >= 2000 ? t : null;
    });
    expect(valueWith(text, 'redline_statsd_lines_total')! - before).toBe(2000);
    let total = 0;
    for (let d = 0; d < 5; d++) for (let l = 0; l < 4; l++) total += valueWith(text, 'slow_push_lines', { d: String(d), l: String(l) }) ?? 0;
    expect(total).toBe(2000);
  });

  it('a dead endpoint backs off and counts', async () => {
    sink = await otlpSink();
    const dead = sink.url;
    await sink.close();
    sink = undefined;
    agent = await startAgent([`--otlp.endpoint=${dead}`, '--otlp.interval=100ms', '--otlp.timeout=1s']);
    const text = await waitFor(async () => {
      const t = await agent!.metrics();
      return (valueWith(t, 'redline_otlp_export_dropped_total', { reason: 'backoff' }) ?? 0) >= 1 && (valueWith(t, 'redline_otlp_exports_total', { outcome: 'failure' }) ?? 0) >= 1 ? t : null;
    });
    expect(valueWith(text, 'redline_otlp_exports_total', { outcome: 'success' })).toBe(0);
    expect(valueWith(text, 'redline_otlp_export_last_success_timestamp_seconds')).toBe(0);
  });
});
